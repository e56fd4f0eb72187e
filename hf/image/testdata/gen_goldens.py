#!/usr/bin/python3
"""Regenerate the goldens of package mbq/hf/image from an independent implementation.

Run with Debian's system Python (python3-pil, python3-numpy), not a pyenv one:

    cd hf/image/testdata && /usr/bin/python3 gen_goldens.py

What it does, deterministically (fixed seed, no timestamps):

  * writes small test images (PNG in every colour type the Go side must handle,
    JPEGs written by PIL/libjpeg) into in/;
  * conv/<image>.rgb:   PIL's Image.open(f).convert("RGB") as raw bytes, HWC;
  * resize/...:         PIL Image.resize(size, resample) on the RGB image;
  * pre/...:            the slow transformers image-processor pipeline re-stated in
                        numpy exactly as transformers' image_transforms.py does it
                        (rescale: astype(float64) * factor, then astype(float32);
                        normalize: (x - float32(mean)) / float32(std) in float32);
  * anyres/...:         LLaVA-OneVision anyres tiles (select_best_resolution,
                        get_patch_output_size, zero padding, tiling) and token counts
                        (processing_llava_onevision._get_unpadded_features, with the
                        round(x, 7) of current transformers) evaluated in Python;
  * manifest.json:      every case with its parameters and the SHA-256 of its output;
                        outputs bigger than RAW_LIMIT bytes are kept only as hashes.

The transformers code re-stated here was read at huggingface/transformers commits
000593ad (image_transforms.py) and 03eac6f6 (image_processing_llava_onevision.py).
"""

import hashlib
import json
import math
import os
import struct
import zlib

import numpy as np
import PIL
from PIL import Image

RAW_LIMIT = 40000
HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240607)

manifest = {
    "pillow_version": PIL.__version__,
    "numpy_version": np.__version__,
    "images": {},
    "convert": [],
    "resize": [],
    "preprocess": [],
    "anyres": [],
    "tokens": [],
}


def path(*p):
    full = os.path.join(HERE, *p)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    return full


def emit(kind, rel, data, always=False, **params):
    data = bytes(data)
    entry = dict(params)
    entry["sha256"] = hashlib.sha256(data).hexdigest()
    entry["bytes"] = len(data)
    if always or len(data) <= RAW_LIMIT:
        with open(path(rel), "wb") as f:
            f.write(data)
        entry["file"] = rel
    manifest[kind].append(entry)


# ---------------------------------------------------------------- test images


def rgb_pattern(w, h):
    """Gradients + noise + sharp edges: exercises negative bicubic lobes and clipping."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin(x * 0.9 + y * 0.35)
    img = np.stack([r, g, b], -1)
    img += rng.normal(0, 18, img.shape)
    # hard-edged blocks of black and white
    img[(x.astype(int) // 5 + y.astype(int) // 4) % 7 == 0] = 255
    img[(x.astype(int) // 3 + 2 * y.astype(int) // 5) % 11 == 0] = 0
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def save(im, name, **kw):
    im.save(path("in", name), **kw)
    manifest["images"][name] = {"mode": im.mode, "width": im.size[0], "height": im.size[1]}


def png_chunk(tag, data):
    c = tag + data
    return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)


def write_png16_rgb(name, arr):
    """16-bit RGB PNG written by hand (PIL cannot write one)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[i].astype(">u2").tobytes() for i in range(h))
    png = b"\x89PNG\r\n\x1a\n"
    png += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    png += png_chunk(b"IDAT", zlib.compress(raw, 9))
    png += png_chunk(b"IEND", b"")
    with open(path("in", name), "wb") as f:
        f.write(png)
    manifest["images"][name] = {"mode": "RGB;16", "width": w, "height": h}


save(Image.fromarray(rgb_pattern(37, 23), "RGB"), "grad_37x23.png")
save(Image.fromarray(rgb_pattern(200, 150), "RGB"), "noise_200x150.png")
save(Image.fromarray(rgb_pattern(13, 97), "RGB"), "tall_13x97.png")

rgba = np.concatenate([rgb_pattern(41, 29), rng.integers(0, 256, (29, 41, 1), dtype=np.uint8)], -1)
rgba[0, :, 3] = 0  # fully transparent row: PIL drops alpha, keeps colour
save(Image.fromarray(rgba, "RGBA"), "rgba_41x29.png")

gray = rgb_pattern(31, 17)[..., 1]
save(Image.fromarray(gray, "L"), "gray_31x17.png")

la = np.stack([rgb_pattern(19, 11)[..., 0], rng.integers(0, 256, (11, 19), dtype=np.uint8)], -1)
save(Image.fromarray(la, "LA"), "la_19x11.png")

pal = Image.fromarray(rgb_pattern(23, 19), "RGB").quantize(colors=37, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
pal.info["transparency"] = 5
save(pal, "pal_23x19.png", transparency=5)

bit1 = Image.fromarray((rgb_pattern(21, 13)[..., 0] > 128).astype(np.uint8) * 255, "L").convert("1", dither=Image.Dither.NONE)
save(bit1, "bit1_21x13.png")

g16 = (np.arange(9 * 7, dtype=np.uint32).reshape(7, 9) * 37 + rng.integers(0, 8, (7, 9))).astype(np.uint16)
g16[3, :] = np.arange(9) * 9000  # values far above 255
save(Image.fromarray(g16, "I;16"), "g16_9x7.png")

write_png16_rgb("rgb16_11x5.png", rng.integers(0, 65536, (5, 11, 3), dtype=np.uint32).astype(np.uint16))

photo = Image.fromarray(rgb_pattern(64, 48), "RGB")
save(photo, "photo420_64x48.jpg", quality=90)
save(photo, "photo444_64x48.jpg", quality=95, subsampling=0)
save(Image.fromarray(rgb_pattern(37, 23), "RGB"), "odd420_37x23.jpg", quality=85)
save(Image.fromarray(rgb_pattern(37, 23), "RGB"), "odd422_37x23.jpg", quality=85, subsampling=1)
save(Image.fromarray(gray), "gray_31x17.jpg", quality=90)
save(Image.fromarray(rgb_pattern(16, 12), "RGB").convert("CMYK"), "cmyk_16x12.jpg", quality=95, subsampling=0)

# ---------------------------------------------------------------- RGB conversion

for name in sorted(manifest["images"]):
    rgb = Image.open(path("in", name)).convert("RGB")
    emit("convert", "conv/" + name + ".rgb", np.asarray(rgb).tobytes(), always=True, image=name,
         width=rgb.size[0], height=rgb.size[1], source_mode=Image.open(path("in", name)).mode)


def load_rgb(name):
    return Image.open(path("in", name)).convert("RGB")


# ---------------------------------------------------------------- resize

FILTERS = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}
RESIZES = [
    ("grad_37x23.png", [(384, 384), (64, 64), (17, 29), (37, 11), (5, 23), (1, 1), (74, 46)]),
    ("noise_200x150.png", [(384, 384), (64, 64), (17, 29), (199, 150), (200, 151), (3, 2)]),
    ("tall_13x97.png", [(384, 384), (29, 17), (13, 40), (64, 64)]),
    ("rgba_41x29.png", [(50, 50)]),
    ("gray_31x17.png", [(40, 23)]),
]
for name, sizes in RESIZES:
    src = load_rgb(name)
    for (w, h) in sizes:
        for fname in ["bicubic", "bilinear", "nearest", "lanczos", "box", "hamming"]:
            if fname not in ("bicubic", "bilinear") and (w, h) == (384, 384):
                continue
            out = src.resize((w, h), resample=FILTERS[fname])
            emit("resize", "resize/%s_%s_%dx%d.rgb" % (name.split(".")[0], fname, w, h),
                 np.asarray(out).tobytes(), image=name, filter=fname, resample=FILTERS[fname], width=w, height=h)

# ---------------------------------------------------------------- full preprocess

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def rescale_normalize(arr_hwc_u8, factor, mean, std, do_rescale=True, do_normalize=True):
    """transformers.image_transforms.rescale / normalize, then channel-first."""
    x = arr_hwc_u8
    if do_rescale:
        x = (x.astype(np.float64) * factor).astype(np.float32)
    if do_normalize:
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        x = (x - np.array(mean, dtype=x.dtype)) / np.array(std, dtype=x.dtype)
    return np.ascontiguousarray(x.transpose(2, 0, 1)).astype(np.float32)


PREPROCESS = [
    ("grad_37x23.png", 48, 48, 3, [0.5] * 3, [0.5] * 3, True, True),
    ("rgba_41x29.png", 32, 40, 3, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, True, True),
    ("gray_31x17.png", 28, 28, 2, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, True, True),
    ("pal_23x19.png", 23, 19, 3, [0.5] * 3, [0.5] * 3, True, True),  # same size: no resampling
    ("tall_13x97.png", 14, 42, 2, [0.5] * 3, [0.5] * 3, False, True),
    ("photo444_64x48.jpg", 32, 32, 3, [0.5] * 3, [0.5] * 3, True, False),
    ("noise_200x150.png", 384, 384, 3, [0.5] * 3, [0.5] * 3, True, True),
]
for name, w, h, resample, mean, std, do_rescale, do_norm in PREPROCESS:
    src = load_rgb(name)
    resized = np.asarray(src.resize((w, h), resample=resample))
    out = rescale_normalize(resized, 1 / 255, mean, std, do_rescale, do_norm)
    emit("preprocess", "pre/%s_%dx%d.f32" % (name.split(".")[0], w, h), out.astype("<f4").tobytes(),
         image=name, width=w, height=h, resample=resample, image_mean=mean, image_std=std,
         rescale_factor=1 / 255, do_rescale=do_rescale, do_normalize=do_norm)

# ---------------------------------------------------------------- LLaVA-OneVision anyres


def select_best_resolution(original_size, possible_resolutions):
    original_height, original_width = original_size
    best_fit = None
    max_effective_resolution = 0
    min_wasted_resolution = float("inf")
    for height, width in possible_resolutions:
        scale = min(width / original_width, height / original_height)
        downscaled_width, downscaled_height = int(original_width * scale), int(original_height * scale)
        effective_resolution = min(downscaled_width * downscaled_height, original_width * original_height)
        wasted_resolution = (width * height) - effective_resolution
        if effective_resolution > max_effective_resolution or (
            effective_resolution == max_effective_resolution and wasted_resolution < min_wasted_resolution
        ):
            max_effective_resolution = effective_resolution
            min_wasted_resolution = wasted_resolution
            best_fit = (height, width)
    return best_fit


def get_patch_output_size(original_height, original_width, target_resolution):
    target_height, target_width = target_resolution
    scale_w = target_width / original_width
    scale_h = target_height / original_height
    if scale_w < scale_h:
        new_width = target_width
        new_height = min(math.ceil(original_height * scale_w), target_height)
    else:
        new_height = target_height
        new_width = min(math.ceil(original_width * scale_h), target_width)
    return new_height, new_width


def anyres_tiles(img, size, pinpoints, resample):
    arr = np.asarray(img)
    oh, ow = arr.shape[:2]
    best = select_best_resolution((oh, ow), pinpoints)
    nh, nw = get_patch_output_size(oh, ow, best)
    resized = np.asarray(img.resize((nw, nh), resample=resample))
    py, ry = divmod(best[0] - nh, 2)
    px, rx = divmod(best[1] - nw, 2)
    padded = np.pad(resized, ((py, py + ry), (px, px + rx), (0, 0)), mode="constant", constant_values=0)
    tiles = [np.asarray(img.resize((size, size), resample=resample))]
    for i in range(0, padded.shape[0], size):
        for j in range(0, padded.shape[1], size):
            tiles.append(padded[i:i + size, j:j + size])
    return best, (nh, nw), tiles


ANYRES = [
    ("noise_200x150.png", 32, [[32, 32], [32, 64], [64, 32], [64, 64], [32, 96], [96, 32]]),
    ("tall_13x97.png", 24, [[24, 24], [48, 24], [72, 24], [24, 48], [48, 48]]),
    ("grad_37x23.png", 16, [[16, 16], [16, 32], [32, 16], [32, 32], [32, 48]]),
]
for name, size, pins in ANYRES:
    src = load_rgb(name)
    best, (nh, nw), tiles = anyres_tiles(src, size, pins, 3)
    data = b"".join(rescale_normalize(t, 1 / 255, [0.5] * 3, [0.5] * 3).astype("<f4").tobytes() for t in tiles)
    emit("anyres", "anyres/%s_%d.f32" % (name.split(".")[0], size), data, image=name, size=size,
         pinpoints=pins, best=list(best), resized=[nh, nw], num_tiles=len(tiles), resample=3,
         image_mean=[0.5] * 3, image_std=[0.5] * 3, rescale_factor=1 / 255)


def num_image_tokens(orig_height, orig_width, height, width, patch_size, pinpoints, max_num_patches):
    """processing_llava_onevision.LlavaOnevisionProcessor._get_number_of_features."""
    hb, wb = select_best_resolution([orig_height, orig_width], pinpoints)
    scale_height, scale_width = hb // height, wb // width
    patches_height = height // patch_size
    patches_width = width // patch_size
    current_height = patches_height * scale_height
    current_width = patches_width * scale_width
    original_aspect_ratio = orig_width / orig_height
    current_aspect_ratio = current_width / current_height
    if original_aspect_ratio > current_aspect_ratio:
        new_height = int(round(orig_height * (current_width / orig_width), 7))
        padding = (current_height - new_height) // 2
        current_height -= padding * 2
    else:
        new_width = int(round(orig_width * (current_height / orig_height), 7))
        padding = (current_width - new_width) // 2
        current_width -= padding * 2
    unpadded_features = current_height * current_width
    newline_features = current_height
    ratio = math.sqrt(current_height * current_width / (max_num_patches * patches_height**2))
    if ratio > 1.1:
        unpadded_features = int(current_height // ratio) * int(current_width // ratio)
        newline_features = int(current_height // ratio)
    return unpadded_features + newline_features + patches_height * patches_width


OV_PINPOINTS = [[a, b] for a in range(384, 2305, 384) for b in range(384, 2305, 384)]
token_sizes = [(1, 1), (384, 384), (480, 640), (640, 480), (768, 1024), (1080, 1920), (1920, 1080),
               (100, 3000), (3000, 100), (333, 999), (999, 333), (2304, 2304), (500, 500), (1000, 1000),
               (123, 457), (457, 123), (729, 1300), (4000, 3000), (17, 29), (383, 385)]
token_sizes += [(int(rng.integers(1, 5000)), int(rng.integers(1, 5000))) for _ in range(40)]
for oh, ow in token_sizes:
    manifest["tokens"].append({"height": oh, "width": ow, "tile": 384, "patch": 14, "max_num_patches": 9,
                               "best": list(select_best_resolution((oh, ow), OV_PINPOINTS)),
                               "tokens": num_image_tokens(oh, ow, 384, 384, 14, OV_PINPOINTS, 9)})

with open(path("manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1, sort_keys=True)
    f.write("\n")
print("Pillow", PIL.__version__, "numpy", np.__version__, "ok")

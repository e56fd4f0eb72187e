// Package image turns image files into the pixel tensors Hugging Face's slow
// (Pillow-based) image processors produce for SigLIP and LLaVA-OneVision,
// bit for bit.
//
// # Pipeline
//
//	file --Decode--> RGB (uint8, HWC) --Resize--> RGB --RescaleNormalize--> Pixels (float32, CHW) --Patches--> [N, 3·P·P]
//
// ProcessorConfig.Preprocess runs resize → rescale → normalize with the
// settings of a preprocessor_config.json (LoadProcessorConfig);
// ProcessorConfig.PreprocessAnyres produces LLaVA-OneVision's list of tiles.
//
// # Decoding and RGB conversion
//
// PNG, JPEG and GIF (first frame) are decoded with the standard library after
// the header's dimensions are checked against MaxPixels (Pillow's
// decompression-bomb limit). EXIF orientation is not applied, as PIL's
// Image.open does not apply it. The conversion to RGB is PIL's
// convert("RGB"), which transformers' convert_to_rgb calls unchanged (no
// compositing of alpha on white): alpha is dropped, palettes looked up,
// grey replicated, 16-bit samples keep their high byte, except 16-bit grey,
// which PIL opens as mode "I" and clips to 255. CMYK uses Pillow's cmyk2rgb.
// For YCbCr JPEGs the chroma upsampling ("fancy", triangle filter) and the
// fixed-point colour conversion are libjpeg's; only the IDCT is Go's, so
// JPEG pixels may differ from PIL's by up to 3 levels (mean < 0.1 level in
// the tests); PNG decoding is exact.
//
// # Resampling (Pillow's ImagingResample)
//
// Resize is separable: a horizontal pass into a temporary image that holds
// only the source rows the vertical pass reads, then a vertical pass. A pass
// is skipped when its dimension is unchanged; an unchanged size is a copy.
// For one pass from in samples to out samples, scale = in/out,
// fs = max(scale, 1) (the antialiasing widening when downscaling),
// support = s·fs with s the kernel's support (bilinear 1, bicubic 2, lanczos
// 3, box 0.5, hamming 1), and for output sample i:
//
//	center = (i + 0.5)·scale
//	xmin   = max(0, int(center − support + 0.5))            (C truncation)
//	xmax   = min(in, int(center + support + 0.5)) − xmin    (number of taps)
//	w[x]   = K((x + xmin − center + 0.5) / fs),  x = 0..xmax−1
//	w[x]  /= Σ w                                            (when Σ w ≠ 0)
//
// Kernels: bilinear K(x) = 1 − |x| for |x| < 1; bicubic (Keys, a = −0.5)
// K(x) = ((a+2)|x| − (a+3))·x² + 1 for |x| < 1, (((|x| − 5)|x| + 8)|x| − 4)·a
// for |x| < 2. All in float64, products kept unfused as in Pillow's C.
//
// Fixed point (8 bits per sample): PRECISION_BITS = 32 − 8 − 2 = 22;
// k[x] = trunc(w[x]·2²² ± 0.5) (rounded half away from zero); each output is
//
//	out = clip8((2²¹ + Σ_x in[xmin + x]·k[x]) >> 22)   (int32, arithmetic shift)
//
// with clip8 clamping to 0..255, after each pass. Nearest follows Pillow's
// ImagingScaleAffine instead: source coordinate scale/2 advanced by repeated
// addition of scale, truncated. Every filter is checked bit-exact against
// Pillow 9.4.0 in the tests (lanczos and hamming call math.Sin/Cos, which
// could in principle differ in the last ulp from the C library's).
//
// # Rescale and normalize (transformers image_transforms)
//
//	x = float32(float64(u8) · rescale_factor)          rescale: float64 product, one rounding to float32
//	y = (x − float32(mean[c])) / float32(std[c])        normalize: float32 subtract and divide
//
// computed once per channel and sample value into a 256-entry table.
//
// # Tensor layouts
//
// RGB.Pix is [H, W, 3] uint8 (numpy.asarray of the PIL image). Pixels.Data is
// [3, H, W] float32, row-major: pixel_values of one image/tile as
// transformers returns them (channel-first). Patches returns [N, 3·P·P]
// float32 with N = (H/P)·(W/P) patches in row-major grid order, each
// flattened channel-major (c, y, x) — the flattening of a Conv2d weight
// [D, 3, P, P], so SigLIP's patch embedding is Patches(pix, P) · Wᵀ + b;
// rows/columns beyond the last whole patch are dropped, as the strided
// convolution drops them.
//
// # LLaVA-OneVision anyres
//
// PreprocessAnyres returns the base tile (whole image resized to size)
// first, then the tiles of the image resized (aspect kept, PatchOutputSize)
// to the best pinpoint (SelectBestResolution), zero-padded to it
// symmetrically, and cut row-major. NumImageTokens counts the <image> tokens
// the processor expands an image into, with the "anyres_max_N" downsample and
// the int(round(x, 7)) unpadding of current transformers. Batch-level padding
// of the tile count (do_pad) is the caller's concern.
//
// # Not covered
//
// transformers' fast image processors (…ImageProcessorFast, torchvision
// resize) are not reproduced: their configs load with the same defaults, but
// the output follows the slow processor. LLaVA-OneVision's multi-image path
// (pad_to_square with the mean colour instead of anyres) and video frames
// are not implemented. GIF transparency: Go's decoder zeroes the transparent
// palette entry's colour, where PIL keeps it.
package image

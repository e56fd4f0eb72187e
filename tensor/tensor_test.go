package tensor

import "testing"

func TestShapes(t *testing.T) {
	x := New(2, 3, 4)
	if x.Numel() != 24 || x.Rows() != 6 || x.Cols() != 4 || x.Dim(-2) != 3 {
		t.Fatalf("New(2,3,4): numel %d rows %d cols %d", x.Numel(), x.Rows(), x.Cols())
	}
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	if r := x.Row(5); len(r) != 4 || r[0] != 20 || cap(r) != 4 {
		t.Fatalf("Row(5) = %v (cap %d)", r, cap(r))
	}
	y, err := x.Reshape(-1, 8)
	if err != nil || y.Shape[0] != 3 || &y.Data[0] != &x.Data[0] {
		t.Fatalf("Reshape(-1, 8) = %v, %v", y, err)
	}
	if _, err := x.Reshape(5, -1); err == nil {
		t.Fatal("Reshape(5,-1) of 24 elements succeeded")
	}
	if _, err := x.Reshape(-1, -1); err == nil {
		t.Fatal("Reshape(-1,-1) succeeded")
	}
	if _, err := FromData(make([]float32, 5), 2, 3); err == nil {
		t.Fatal("FromData with 5 values for [2 3] succeeded")
	}
	c := x.Clone()
	c.Data[0] = 99
	if x.Data[0] == 99 {
		t.Fatal("Clone shares data")
	}
	if Numel([]int{-1, 3}) != -1 || Numel([]int{1 << 40, 1 << 40}) != -1 || Numel(nil) != 1 || Numel([]int{0, 5}) != 0 {
		t.Fatal("Numel edge cases")
	}
	if s := x.String(); s != "tensor[2 3 4]" {
		t.Fatalf("String() = %q", s)
	}
}

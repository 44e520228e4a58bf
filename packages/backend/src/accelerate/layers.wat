;; WebAssembly SIMD loops of the layer kernels in layer-kernels.ts (batch normalization in training mode,
;; ReLU and its gradient), over the tfjs wasm backend's own memory (imported), on tensors addressed by byte
;; offset. Compiled by tools/scripts/compile-wat.mjs into layers.wasm.ts; edit this file, then run
;; `npm run compile-wat`. Tensors are [rows, C] (channels last) with C a multiple of 4 (the caller
;; checks); per-channel vectors ([C] f32, or f64 where named so) are read from and written to memory.
;; Per-channel sums run in f32 lanes over blocks of 64 rows, added in f64 across blocks.
(module
  (import "env" "memory" (memory 1)) ;; MEMORY

  ;; Over x [rows, C] with d = x − center[c]: s64[c] = Σd and q64[c] = Σd² (f64 [C] each). f32 block
  ;; sums are kept at s32, q32 ([C] each, scratch).
  (func (export "centeredSums") (param $x i32) (param $rows i32) (param $C i32) (param $center i32)
    (param $s32 i32) (param $q32 i32) (param $s64 i32) (param $q64 i32)
    (local $row i32) (local $blockEnd i32) (local $c i32) (local $cb i32) (local $d v128) (local $rowBytes i32)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (call $zero64 (local.get $s64) (local.get $C))
    (call $zero64 (local.get $q64) (local.get $C))
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $blockEnd (call $min (i32.add (local.get $row) (i32.const 64)) (local.get $rows)))
        (memory.fill (local.get $s32) (i32.const 0) (local.get $cb))
        (memory.fill (local.get $q32) (i32.const 0) (local.get $cb))
        (loop $rowLoop
          (local.set $c (i32.const 0))
          (loop $vec
            (local.set $d (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $c))) (v128.load (i32.add (local.get $center) (local.get $c)))))
            (v128.store (i32.add (local.get $s32) (local.get $c))
              (f32x4.add (v128.load (i32.add (local.get $s32) (local.get $c))) (local.get $d)))
            (v128.store (i32.add (local.get $q32) (local.get $c))
              (f32x4.add (v128.load (i32.add (local.get $q32) (local.get $c))) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br_if $vec (i32.lt_u (local.get $c) (local.get $cb))))
          (local.set $x (i32.add (local.get $x) (local.get $cb)))
          (local.set $row (i32.add (local.get $row) (i32.const 1)))
          (br_if $rowLoop (i32.lt_u (local.get $row) (local.get $blockEnd))))
        (call $add64 (local.get $s64) (local.get $s32) (local.get $C))
        (call $add64 (local.get $q64) (local.get $q32) (local.get $C))
        (br $block))))

  ;; Over dy, x [rows, C]: s64[c] = Σdy and q64[c] = Σdy·(x − center[c]) (f64 [C] each), f32 block sums
  ;; at s32, q32 as in centeredSums.
  (func (export "gradSums") (param $dy i32) (param $x i32) (param $rows i32) (param $C i32) (param $center i32)
    (param $s32 i32) (param $q32 i32) (param $s64 i32) (param $q64 i32)
    (local $row i32) (local $blockEnd i32) (local $c i32) (local $cb i32) (local $g v128)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (call $zero64 (local.get $s64) (local.get $C))
    (call $zero64 (local.get $q64) (local.get $C))
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $blockEnd (call $min (i32.add (local.get $row) (i32.const 64)) (local.get $rows)))
        (memory.fill (local.get $s32) (i32.const 0) (local.get $cb))
        (memory.fill (local.get $q32) (i32.const 0) (local.get $cb))
        (loop $rowLoop
          (local.set $c (i32.const 0))
          (loop $vec
            (local.set $g (v128.load (i32.add (local.get $dy) (local.get $c))))
            (v128.store (i32.add (local.get $s32) (local.get $c))
              (f32x4.add (v128.load (i32.add (local.get $s32) (local.get $c))) (local.get $g)))
            (v128.store (i32.add (local.get $q32) (local.get $c))
              (f32x4.add (v128.load (i32.add (local.get $q32) (local.get $c)))
                (f32x4.mul (local.get $g)
                  (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $c))) (v128.load (i32.add (local.get $center) (local.get $c)))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br_if $vec (i32.lt_u (local.get $c) (local.get $cb))))
          (local.set $x (i32.add (local.get $x) (local.get $cb)))
          (local.set $dy (i32.add (local.get $dy) (local.get $cb)))
          (local.set $row (i32.add (local.get $row) (i32.const 1)))
          (br_if $rowLoop (i32.lt_u (local.get $row) (local.get $blockEnd))))
        (call $add64 (local.get $s64) (local.get $s32) (local.get $C))
        (call $add64 (local.get $q64) (local.get $q32) (local.get $C))
        (br $block))))

  ;; out = (x − sub[c])·mul[c] + add[c] over x [rows, C]: batch normalization's output.
  (func (export "affine") (param $x i32) (param $rows i32) (param $C i32) (param $sub i32) (param $mul i32) (param $add i32) (param $out i32)
    (local $end i32) (local $c i32) (local $cb i32)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.mul (local.get $rows) (local.get $cb))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $c (i32.const 0))
        (loop $vec
          (v128.store (i32.add (local.get $out) (local.get $c))
            (f32x4.add
              (f32x4.mul
                (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $c))) (v128.load (i32.add (local.get $sub) (local.get $c))))
                (v128.load (i32.add (local.get $mul) (local.get $c))))
              (v128.load (i32.add (local.get $add) (local.get $c)))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br_if $vec (i32.lt_u (local.get $c) (local.get $cb))))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $out (i32.add (local.get $out) (local.get $cb)))
        (br $row))))

  ;; dx = a[c]·dy + b[c]·(x − center[c]) + k[c] over dy, x [rows, C]: batch normalization's input gradient.
  (func (export "gradCombine") (param $dy i32) (param $x i32) (param $rows i32) (param $C i32) (param $center i32)
    (param $a i32) (param $b i32) (param $k i32) (param $out i32)
    (local $end i32) (local $c i32) (local $cb i32)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.mul (local.get $rows) (local.get $cb))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $c (i32.const 0))
        (loop $vec
          (v128.store (i32.add (local.get $out) (local.get $c))
            (f32x4.add
              (f32x4.add
                (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $c))) (v128.load (i32.add (local.get $dy) (local.get $c))))
                (f32x4.mul (v128.load (i32.add (local.get $b) (local.get $c)))
                  (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $c))) (v128.load (i32.add (local.get $center) (local.get $c))))))
              (v128.load (i32.add (local.get $k) (local.get $c)))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br_if $vec (i32.lt_u (local.get $c) (local.get $cb))))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $dy (i32.add (local.get $dy) (local.get $cb)))
        (local.set $out (i32.add (local.get $out) (local.get $cb)))
        (br $row))))

  ;; out = max(x, 0) over n values, as Math.max(0, x): NaN stays NaN, −0 gives +0 (f32x4.max's rules).
  (func (export "relu") (param $x i32) (param $n i32) (param $out i32)
    (local $end i32) (local $zero v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (v128.store (local.get $out) (f32x4.max (v128.load (local.get $x)) (local.get $zero)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $next)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (f32.store (local.get $out) (f32.max (f32.load (local.get $x)) (f32.const 0)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $next))))

  ;; out = dy·[y > 0] over n values (a product, so NaN or ±∞ in dy stays NaN where y ≤ 0, as TensorFlow's
  ;; ReluGrad computes it).
  (func (export "reluGrad") (param $dy i32) (param $y i32) (param $n i32) (param $out i32)
    (local $end i32) (local $one v128) (local $zero v128)
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $end (i32.add (local.get $y) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $y) (local.get $end)))
        (v128.store (local.get $out)
          (f32x4.mul (v128.load (local.get $dy))
            (v128.and (f32x4.gt (v128.load (local.get $y)) (local.get $zero)) (local.get $one))))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $next)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $y) (local.get $end)))
        (f32.store (local.get $out)
          (f32.mul (f32.load (local.get $dy)) (select (f32.const 1) (f32.const 0) (f32.gt (f32.load (local.get $y)) (f32.const 0)))))
        (local.set $y (i32.add (local.get $y) (i32.const 4)))
        (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $next))))

  (func $min (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.lt_u (local.get $a) (local.get $b))))

  ;; f64 [n] at $p = 0.
  (func $zero64 (param $p i32) (param $n i32)
    (memory.fill (local.get $p) (i32.const 0) (i32.shl (local.get $n) (i32.const 3))))

  ;; f64 [n] at $to += the f32 [n] at $from (n a multiple of 4).
  (func $add64 (param $to i32) (param $from i32) (param $n i32)
    (local $end i32) (local $v v128)
    (local.set $end (i32.add (local.get $from) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $from) (local.get $end)))
        (local.set $v (v128.load (local.get $from)))
        (v128.store (local.get $to) (f64x2.add (v128.load (local.get $to)) (f64x2.promote_low_f32x4 (local.get $v))))
        (v128.store offset=16 (local.get $to)
          (f64x2.add (v128.load offset=16 (local.get $to))
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))))
        (local.set $from (i32.add (local.get $from) (i32.const 16)))
        (local.set $to (i32.add (local.get $to) (i32.const 32)))
        (br $next))))
)

;; Conv2D for NHWC tensors as register-blocked WebAssembly SIMD, over the tfjs wasm backend's own memory
;; (imported), on tensors addressed by byte offset. Compiled by tools/scripts/compile-wat.mjs into
;; conv2d.wasm.ts; edit this file, then run `npm run compile-wat`.
;;
;; out[n, y, xo, o] = bias[o] + Σ_{kh, kw, c} x[n, y·sh + kh·dh − top, xo·sw + kw·dw − left, c] · f[kh, kw, c, o],
;; taps outside x read 0. For each output row (n, y) and tap (kh, kw), a block of 4 positions × 8 output
;; channels (8 vectors) is held in registers over the input channels: per channel two filter vectors
;; and four x values (splat), 16 vector operations for 32 multiply-adds. co must be a multiple of 8
;; (the caller checks).
;; Where the runtime has relaxed SIMD, the variant with fused multiply-adds runs (one rounding per
;; multiply-add instead of two; loop-kernels.ts picks it):
;; RELAXED-SIMD: multiply-adds into $a0 … $a7 become f32x4.relaxed_madd
(module
  (import "env" "memory" (memory 1)) ;; MEMORY

  ;; out [b, oh, ow, co] from x [b, h, w, ci] and f [fh, fw, ci, co]; bias [co] where $bias is not 0.
  (func (export "conv2d") (param $x i32) (param $f i32) (param $bias i32) (param $out i32)
        (param $b i32) (param $h i32) (param $w i32) (param $ci i32) (param $oh i32) (param $ow i32) (param $co i32)
        (param $fh i32) (param $fw i32) (param $sh i32) (param $sw i32) (param $dh i32) (param $dw i32)
        (param $top i32) (param $left i32)
    (local $n i32) (local $y i32) (local $kh i32) (local $kw i32) (local $r i32) (local $col0 i32)
    (local $lo i32) (local $hi i32) (local $p i32) (local $o i32) (local $cob i32) (local $cib i32)
    (local $xRow i32) (local $outRow i32) (local $tap i32) (local $xStep i32) (local $op i32)
    (local $xp i32) (local $wp i32) (local $wEnd i32) (local $rowBytes i32) (local $q i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local $w0 v128) (local $w1 v128) (local $s v128)
    (local.set $cob (i32.shl (local.get $co) (i32.const 2)))
    (local.set $cib (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $xStep (i32.mul (local.get $sw) (local.get $cib)))
    (local.set $rowBytes (i32.mul (local.get $ow) (local.get $cob)))
    (local.set $outRow (local.get $out))
    (block $nDone (loop $nNext
      (br_if $nDone (i32.ge_s (local.get $n) (local.get $b)))
      (local.set $y (i32.const 0))
      (block $yDone (loop $yNext
        (br_if $yDone (i32.ge_s (local.get $y) (local.get $oh)))
        ;; the row starts as the bias (or 0)
        (if (local.get $bias)
          (then
            (local.set $op (local.get $outRow))
            (block $done (loop $fill
              (br_if $done (i32.ge_u (local.get $op) (i32.add (local.get $outRow) (local.get $rowBytes))))
              (memory.copy (local.get $op) (local.get $bias) (local.get $cob))
              (local.set $op (i32.add (local.get $op) (local.get $cob)))
              (br $fill))))
          (else (memory.fill (local.get $outRow) (i32.const 0) (local.get $rowBytes))))
        (local.set $kh (i32.const 0))
        (block $khDone (loop $khNext
          (br_if $khDone (i32.ge_s (local.get $kh) (local.get $fh)))
          (local.set $r (i32.sub (i32.add (i32.mul (local.get $y) (local.get $sh)) (i32.mul (local.get $kh) (local.get $dh))) (local.get $top)))
          (if (i32.and (i32.ge_s (local.get $r) (i32.const 0)) (i32.lt_s (local.get $r) (local.get $h)))
            (then
              (local.set $xRow (i32.add (local.get $x) (i32.mul (i32.mul (i32.add (i32.mul (local.get $n) (local.get $h)) (local.get $r)) (local.get $w)) (local.get $cib))))
              (local.set $kw (i32.const 0))
              (block $kwDone (loop $kwNext
                (br_if $kwDone (i32.ge_s (local.get $kw) (local.get $fw)))
                ;; positions xo in [lo, hi) read inside the row: 0 ≤ xo·sw + col0 < w
                (local.set $col0 (i32.sub (i32.mul (local.get $kw) (local.get $dw)) (local.get $left)))
                (local.set $lo (i32.const 0))
                (block $found (loop $more
                  (br_if $found (i32.ge_s (local.get $lo) (local.get $ow)))
                  (br_if $found (i32.ge_s (i32.add (i32.mul (local.get $lo) (local.get $sw)) (local.get $col0)) (i32.const 0)))
                  (local.set $lo (i32.add (local.get $lo) (i32.const 1)))
                  (br $more)))
                (local.set $hi (local.get $ow))
                (block $found (loop $more
                  (br_if $found (i32.le_s (local.get $hi) (local.get $lo)))
                  (br_if $found (i32.lt_s (i32.add (i32.mul (i32.sub (local.get $hi) (i32.const 1)) (local.get $sw)) (local.get $col0)) (local.get $w)))
                  (local.set $hi (i32.sub (local.get $hi) (i32.const 1)))
                  (br $more)))
                (local.set $tap (i32.add (local.get $f) (i32.mul (i32.mul (i32.add (i32.mul (local.get $kh) (local.get $fw)) (local.get $kw)) (local.get $ci)) (local.get $cob))))
                (local.set $o (i32.const 0))
                (block $oDone (loop $oNext
                  (br_if $oDone (i32.ge_s (local.get $o) (local.get $co)))
                  (local.set $wEnd (i32.add (local.get $tap) (i32.add (i32.mul (local.get $ci) (local.get $cob)) (i32.shl (local.get $o) (i32.const 2)))))
                  ;; blocks of 4 positions
                  (local.set $p (local.get $lo))
                  (block $pDone (loop $pNext
                    (br_if $pDone (i32.gt_s (i32.add (local.get $p) (i32.const 4)) (local.get $hi)))
                    (local.set $op (i32.add (local.get $outRow) (i32.add (i32.mul (local.get $p) (local.get $cob)) (i32.shl (local.get $o) (i32.const 2)))))
                    (local.set $a0 (v128.load (local.get $op)))
                    (local.set $a1 (v128.load offset=16 (local.get $op)))
                    (local.set $a2 (v128.load (i32.add (local.get $op) (local.get $cob))))
                    (local.set $a3 (v128.load offset=16 (i32.add (local.get $op) (local.get $cob))))
                    (local.set $a4 (v128.load (i32.add (local.get $op) (i32.shl (local.get $cob) (i32.const 1)))))
                    (local.set $a5 (v128.load offset=16 (i32.add (local.get $op) (i32.shl (local.get $cob) (i32.const 1)))))
                    (local.set $a6 (v128.load (i32.add (local.get $op) (i32.mul (local.get $cob) (i32.const 3)))))
                    (local.set $a7 (v128.load offset=16 (i32.add (local.get $op) (i32.mul (local.get $cob) (i32.const 3)))))
                    (local.set $xp (i32.add (local.get $xRow) (i32.mul (i32.add (i32.mul (local.get $p) (local.get $sw)) (local.get $col0)) (local.get $cib))))
                    (local.set $wp (i32.add (local.get $tap) (i32.shl (local.get $o) (i32.const 2))))
                    (local.set $q (i32.add (local.get $xp) (local.get $xStep)))
                    (loop $c
                      (local.set $w0 (v128.load (local.get $wp)))
                      (local.set $w1 (v128.load offset=16 (local.get $wp)))
                      (local.set $s (v128.load32_splat (local.get $xp)))
                      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (local.get $w0))))
                      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (local.get $w1))))
                      (local.set $s (v128.load32_splat (local.get $q)))
                      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (local.get $w0))))
                      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (local.get $w1))))
                      (local.set $s (v128.load32_splat (i32.add (local.get $q) (local.get $xStep))))
                      (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $s) (local.get $w0))))
                      (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $s) (local.get $w1))))
                      (local.set $s (v128.load32_splat (i32.add (local.get $q) (i32.shl (local.get $xStep) (i32.const 1)))))
                      (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $s) (local.get $w0))))
                      (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $s) (local.get $w1))))
                      (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
                      (local.set $q (i32.add (local.get $q) (i32.const 4)))
                      (local.set $wp (i32.add (local.get $wp) (local.get $cob)))
                      (br_if $c (i32.lt_u (local.get $wp) (local.get $wEnd))))
                    (v128.store (local.get $op) (local.get $a0))
                    (v128.store offset=16 (local.get $op) (local.get $a1))
                    (v128.store (i32.add (local.get $op) (local.get $cob)) (local.get $a2))
                    (v128.store offset=16 (i32.add (local.get $op) (local.get $cob)) (local.get $a3))
                    (v128.store (i32.add (local.get $op) (i32.shl (local.get $cob) (i32.const 1))) (local.get $a4))
                    (v128.store offset=16 (i32.add (local.get $op) (i32.shl (local.get $cob) (i32.const 1))) (local.get $a5))
                    (v128.store (i32.add (local.get $op) (i32.mul (local.get $cob) (i32.const 3))) (local.get $a6))
                    (v128.store offset=16 (i32.add (local.get $op) (i32.mul (local.get $cob) (i32.const 3))) (local.get $a7))
                    (local.set $p (i32.add (local.get $p) (i32.const 4)))
                    (br $pNext)))
                  ;; the last (hi − lo) mod 4 positions, one at a time
                  (block $pDone (loop $pNext
                    (br_if $pDone (i32.ge_s (local.get $p) (local.get $hi)))
                    (local.set $op (i32.add (local.get $outRow) (i32.add (i32.mul (local.get $p) (local.get $cob)) (i32.shl (local.get $o) (i32.const 2)))))
                    (local.set $a0 (v128.load (local.get $op)))
                    (local.set $a1 (v128.load offset=16 (local.get $op)))
                    (local.set $xp (i32.add (local.get $xRow) (i32.mul (i32.add (i32.mul (local.get $p) (local.get $sw)) (local.get $col0)) (local.get $cib))))
                    (local.set $wp (i32.add (local.get $tap) (i32.shl (local.get $o) (i32.const 2))))
                    (loop $c
                      (local.set $s (v128.load32_splat (local.get $xp)))
                      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load (local.get $wp)))))
                      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $wp)))))
                      (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
                      (local.set $wp (i32.add (local.get $wp) (local.get $cob)))
                      (br_if $c (i32.lt_u (local.get $wp) (local.get $wEnd))))
                    (v128.store (local.get $op) (local.get $a0))
                    (v128.store offset=16 (local.get $op) (local.get $a1))
                    (local.set $p (i32.add (local.get $p) (i32.const 1)))
                    (br $pNext)))
                  (local.set $o (i32.add (local.get $o) (i32.const 8)))
                  (br $oNext)))
                (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
                (br $kwNext)))))
          (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
          (br $khNext)))
        (local.set $outRow (i32.add (local.get $outRow) (local.get $rowBytes)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yNext)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nNext))))
)

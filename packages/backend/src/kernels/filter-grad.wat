;; Conv2DBackpropFilter for NHWC tensors as register-blocked WebAssembly SIMD, over the tfjs wasm
;; backend's own memory (imported), on tensors addressed by byte offset. Compiled by
;; tools/scripts/compile-wat.mjs into filter-grad.wasm.ts; edit this file, then run `npm run compile-wat`.
;;
;; dW[kh, kw, c, o] = Σ_{n, y, xo} x[n, y·sh + kh·dh − top, xo·sw + kw·dw − left, c] · dy[n, y, xo, o].
;; For each output row (n, y) and tap (kh, kw), the row's dy [ow, co] and the x values the tap reads
;; are in cache; a 4×8 block of dW (4 input channels × 8 output channels, 8 vectors) is held in
;; registers over the row's positions: per position, two dy vectors and four x values (splat), 16 vector
;; operations for 32 multiply-adds. co must be a multiple of 8 (the caller checks).
;; Where the runtime has relaxed SIMD, the variant with fused multiply-adds runs (one rounding per
;; multiply-add instead of two; loop-kernels.ts picks it):
;; RELAXED-SIMD: multiply-adds into $a0 … $a7 become f32x4.relaxed_madd
(module
  (import "env" "memory" (memory 1)) ;; MEMORY

  ;; dW [fh, fw, ci, co] at $out = the sum over the images [0, b) of x [b, h, w, ci] and dy [b, oh, ow, co].
  (func (export "filterGrad") (param $x i32) (param $dy i32) (param $out i32)
        (param $b i32) (param $h i32) (param $w i32) (param $ci i32) (param $oh i32) (param $ow i32) (param $co i32)
        (param $fh i32) (param $fw i32) (param $sh i32) (param $sw i32) (param $dh i32) (param $dw i32)
        (param $top i32) (param $left i32)
    (local $n i32) (local $y i32) (local $kh i32) (local $kw i32) (local $r i32) (local $col0 i32)
    (local $lo i32) (local $hi i32) (local $c i32) (local $o i32)
    (local $cob i32) (local $xRow i32) (local $dyRow i32) (local $tap i32) (local $xStep i32)
    (local $wp i32) (local $xp i32) (local $dp i32) (local $dEnd i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local $d0 v128) (local $d1 v128) (local $s v128)
    (local.set $cob (i32.shl (local.get $co) (i32.const 2)))
    (local.set $xStep (i32.shl (i32.mul (local.get $sw) (local.get $ci)) (i32.const 2)))
    (memory.fill (local.get $out) (i32.const 0)
      (i32.mul (i32.mul (i32.mul (local.get $fh) (local.get $fw)) (local.get $ci)) (local.get $cob)))
    (local.set $n (i32.const 0))
    (block $nDone (loop $nNext
      (br_if $nDone (i32.ge_s (local.get $n) (local.get $b)))
      (local.set $y (i32.const 0))
      (block $yDone (loop $yNext
        (br_if $yDone (i32.ge_s (local.get $y) (local.get $oh)))
        (local.set $dyRow (i32.add (local.get $dy)
          (i32.mul (i32.mul (i32.add (i32.mul (local.get $n) (local.get $oh)) (local.get $y)) (local.get $ow)) (local.get $cob))))
        (local.set $kh (i32.const 0))
        (block $khDone (loop $khNext
          (br_if $khDone (i32.ge_s (local.get $kh) (local.get $fh)))
          (local.set $r (i32.sub (i32.add (i32.mul (local.get $y) (local.get $sh)) (i32.mul (local.get $kh) (local.get $dh))) (local.get $top)))
          (if (i32.and (i32.ge_s (local.get $r) (i32.const 0)) (i32.lt_s (local.get $r) (local.get $h)))
            (then
              (local.set $xRow (i32.add (local.get $x)
                (i32.shl (i32.mul (i32.mul (i32.add (i32.mul (local.get $n) (local.get $h)) (local.get $r)) (local.get $w)) (local.get $ci)) (i32.const 2))))
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
                (if (i32.lt_s (local.get $lo) (local.get $hi))
                  (then
                    (local.set $tap (i32.add (local.get $out)
                      (i32.mul (i32.mul (i32.add (i32.mul (local.get $kh) (local.get $fw)) (local.get $kw)) (local.get $ci)) (local.get $cob))))
                    (local.set $dEnd (i32.add (local.get $dyRow) (i32.mul (local.get $hi) (local.get $cob))))
                    ;; blocks of 4 input channels
                    (local.set $c (i32.const 0))
                    (block $cDone (loop $cNext
                      (br_if $cDone (i32.gt_s (i32.add (local.get $c) (i32.const 4)) (local.get $ci)))
                      (local.set $o (i32.const 0))
                      (block $oDone (loop $oNext
                        (br_if $oDone (i32.ge_s (local.get $o) (local.get $co)))
                        (local.set $wp (i32.add (local.get $tap) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $co)) (local.get $o)) (i32.const 2))))
                        (local.set $a0 (v128.load (local.get $wp)))
                        (local.set $a1 (v128.load offset=16 (local.get $wp)))
                        (local.set $a2 (v128.load (i32.add (local.get $wp) (local.get $cob))))
                        (local.set $a3 (v128.load offset=16 (i32.add (local.get $wp) (local.get $cob))))
                        (local.set $a4 (v128.load (i32.add (local.get $wp) (i32.shl (local.get $cob) (i32.const 1)))))
                        (local.set $a5 (v128.load offset=16 (i32.add (local.get $wp) (i32.shl (local.get $cob) (i32.const 1)))))
                        (local.set $a6 (v128.load (i32.add (local.get $wp) (i32.mul (local.get $cob) (i32.const 3)))))
                        (local.set $a7 (v128.load offset=16 (i32.add (local.get $wp) (i32.mul (local.get $cob) (i32.const 3)))))
                        (local.set $xp (i32.add (local.get $xRow)
                          (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $lo) (local.get $sw)) (local.get $col0)) (local.get $ci)) (local.get $c)) (i32.const 2))))
                        (local.set $dp (i32.add (local.get $dyRow) (i32.shl (i32.add (i32.mul (local.get $lo) (local.get $co)) (local.get $o)) (i32.const 2))))
                        (loop $pos
                          (local.set $d0 (v128.load (local.get $dp)))
                          (local.set $d1 (v128.load offset=16 (local.get $dp)))
                          (local.set $s (v128.load32_splat (local.get $xp)))
                          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (local.get $d0))))
                          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (local.get $d1))))
                          (local.set $s (v128.load32_splat offset=4 (local.get $xp)))
                          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (local.get $d0))))
                          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (local.get $d1))))
                          (local.set $s (v128.load32_splat offset=8 (local.get $xp)))
                          (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $s) (local.get $d0))))
                          (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $s) (local.get $d1))))
                          (local.set $s (v128.load32_splat offset=12 (local.get $xp)))
                          (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $s) (local.get $d0))))
                          (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $s) (local.get $d1))))
                          (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                          (local.set $dp (i32.add (local.get $dp) (local.get $cob)))
                          (br_if $pos (i32.lt_u (local.get $dp) (local.get $dEnd))))
                        (v128.store (local.get $wp) (local.get $a0))
                        (v128.store offset=16 (local.get $wp) (local.get $a1))
                        (v128.store (i32.add (local.get $wp) (local.get $cob)) (local.get $a2))
                        (v128.store offset=16 (i32.add (local.get $wp) (local.get $cob)) (local.get $a3))
                        (v128.store (i32.add (local.get $wp) (i32.shl (local.get $cob) (i32.const 1))) (local.get $a4))
                        (v128.store offset=16 (i32.add (local.get $wp) (i32.shl (local.get $cob) (i32.const 1))) (local.get $a5))
                        (v128.store (i32.add (local.get $wp) (i32.mul (local.get $cob) (i32.const 3))) (local.get $a6))
                        (v128.store offset=16 (i32.add (local.get $wp) (i32.mul (local.get $cob) (i32.const 3))) (local.get $a7))
                        (local.set $o (i32.add (local.get $o) (i32.const 8)))
                        (br $oNext)))
                      (local.set $c (i32.add (local.get $c) (i32.const 4)))
                      (br $cNext)))
                    ;; the last ci mod 4 input channels, one at a time
                    (block $cDone (loop $cNext
                      (br_if $cDone (i32.ge_s (local.get $c) (local.get $ci)))
                      (local.set $o (i32.const 0))
                      (block $oDone (loop $oNext
                        (br_if $oDone (i32.ge_s (local.get $o) (local.get $co)))
                        (local.set $wp (i32.add (local.get $tap) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $co)) (local.get $o)) (i32.const 2))))
                        (local.set $a0 (v128.load (local.get $wp)))
                        (local.set $a1 (v128.load offset=16 (local.get $wp)))
                        (local.set $xp (i32.add (local.get $xRow)
                          (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $lo) (local.get $sw)) (local.get $col0)) (local.get $ci)) (local.get $c)) (i32.const 2))))
                        (local.set $dp (i32.add (local.get $dyRow) (i32.shl (i32.add (i32.mul (local.get $lo) (local.get $co)) (local.get $o)) (i32.const 2))))
                        (loop $pos
                          (local.set $s (v128.load32_splat (local.get $xp)))
                          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load (local.get $dp)))))
                          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $dp)))))
                          (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                          (local.set $dp (i32.add (local.get $dp) (local.get $cob)))
                          (br_if $pos (i32.lt_u (local.get $dp) (local.get $dEnd))))
                        (v128.store (local.get $wp) (local.get $a0))
                        (v128.store offset=16 (local.get $wp) (local.get $a1))
                        (local.set $o (i32.add (local.get $o) (i32.const 8)))
                        (br $oNext)))
                      (local.set $c (i32.add (local.get $c) (i32.const 1)))
                      (br $cNext)))))
                (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
                (br $kwNext)))))
          (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
          (br $khNext)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yNext)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nNext))))
)

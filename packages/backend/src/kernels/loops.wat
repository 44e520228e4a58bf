;; WebAssembly SIMD loops for sparsify's wasm training kernels (conv.ts, reduce.ts, pool.ts), run over the
;; tfjs wasm backend's own memory (imported), on tensors addressed by byte offset. Compiled by
;; tools/scripts/compile-wat.mjs into loops.wasm.ts; edit this file, then run `npm run compile-wat`.
(module
  (import "env" "memory" (memory 1)) ;; MEMORY

  ;; dst[0..len) += src[0..len) (f32), four at a time, then one at a time.
  (func $addRun (param $dst i32) (param $src i32) (param $len i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $src) (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $next)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $len) (i32.const 3)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $next))))

  ;; col2im: dx [b, h, w, ci] = 0, then each row (n, y, x) of cols [b·oh·ow, fh·fw·ci] is added at the
  ;; input positions its taps (kh, kw) read in the forward conv; taps in the padding are skipped. With
  ;; dilation 1 along w, the fw taps of a row land on consecutive columns: one run of up to fw·ci values.
  (func (export "col2imAdd") (param $cols i32) (param $dx i32)
        (param $b i32) (param $h i32) (param $w i32) (param $ci i32) (param $oh i32) (param $ow i32)
        (param $fh i32) (param $fw i32) (param $sh i32) (param $sw i32) (param $dh i32) (param $dw i32)
        (param $top i32) (param $left i32)
    (local $n i32) (local $y i32) (local $x i32) (local $kh i32) (local $kw i32)
    (local $image i32) (local $rowBytes i32) (local $tapBytes i32) (local $rowBase i32)
    (local $r i32) (local $col0 i32) (local $col i32) (local $lo i32) (local $hi i32)
    (local.set $rowBytes (i32.shl (i32.mul (local.get $w) (local.get $ci)) (i32.const 2)))
    (local.set $tapBytes (i32.shl (local.get $ci) (i32.const 2)))
    (memory.fill (local.get $dx) (i32.const 0) (i32.mul (i32.mul (local.get $b) (local.get $h)) (local.get $rowBytes)))
    (local.set $image (local.get $dx))
    (block $nDone (loop $nNext
      (br_if $nDone (i32.ge_s (local.get $n) (local.get $b)))
      (local.set $y (i32.const 0))
      (block $yDone (loop $yNext
        (br_if $yDone (i32.ge_s (local.get $y) (local.get $oh)))
        (local.set $x (i32.const 0))
        (block $xDone (loop $xNext
          (br_if $xDone (i32.ge_s (local.get $x) (local.get $ow)))
          (local.set $col0 (i32.sub (i32.mul (local.get $x) (local.get $sw)) (local.get $left)))
          (local.set $kh (i32.const 0))
          (block $khDone (loop $khNext
            (br_if $khDone (i32.ge_s (local.get $kh) (local.get $fh)))
            (local.set $r (i32.sub (i32.add (i32.mul (local.get $y) (local.get $sh)) (i32.mul (local.get $kh) (local.get $dh))) (local.get $top)))
            (if (i32.and (i32.ge_s (local.get $r) (i32.const 0)) (i32.lt_s (local.get $r) (local.get $h)))
              (then
                (local.set $rowBase (i32.add (local.get $image) (i32.mul (local.get $r) (local.get $rowBytes))))
                (if (i32.eq (local.get $dw) (i32.const 1))
                  (then
                    ;; taps kw in [lo, hi) land inside the row
                    (local.set $lo (select (i32.sub (i32.const 0) (local.get $col0)) (i32.const 0) (i32.lt_s (local.get $col0) (i32.const 0))))
                    (local.set $hi (select (local.get $fw) (i32.sub (local.get $w) (local.get $col0))
                      (i32.le_s (local.get $fw) (i32.sub (local.get $w) (local.get $col0)))))
                    (if (i32.gt_s (local.get $hi) (local.get $lo))
                      (then (call $addRun
                        (i32.add (local.get $rowBase) (i32.mul (i32.add (local.get $col0) (local.get $lo)) (local.get $tapBytes)))
                        (i32.add (local.get $cols) (i32.mul (local.get $lo) (local.get $tapBytes)))
                        (i32.mul (i32.sub (local.get $hi) (local.get $lo)) (local.get $ci))))))
                  (else
                    (local.set $kw (i32.const 0))
                    (block $kwDone (loop $kwNext
                      (br_if $kwDone (i32.ge_s (local.get $kw) (local.get $fw)))
                      (local.set $col (i32.add (local.get $col0) (i32.mul (local.get $kw) (local.get $dw))))
                      (if (i32.and (i32.ge_s (local.get $col) (i32.const 0)) (i32.lt_s (local.get $col) (local.get $w)))
                        (then (call $addRun
                          (i32.add (local.get $rowBase) (i32.mul (local.get $col) (local.get $tapBytes)))
                          (i32.add (local.get $cols) (i32.mul (local.get $kw) (local.get $tapBytes)))
                          (local.get $ci))))
                      (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
                      (br $kwNext)))))))
            (local.set $cols (i32.add (local.get $cols) (i32.mul (local.get $fw) (local.get $tapBytes))))
            (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
            (br $khNext)))
          (local.set $x (i32.add (local.get $x) (i32.const 1)))
          (br $xNext)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yNext)))
      (local.set $image (i32.add (local.get $image) (i32.mul (local.get $h) (local.get $rowBytes))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nNext))))

  ;; im2col, transposed: patches [fh·fw·ci, b·oh·ow], row (kh, kw, c) holding x[n, y·sh + kh·dh − top,
  ;; xo·sw + kw·dw − left, c] over (n, y, xo), 0 in the padding. With ci = 1 and stride 1 a row's
  ;; values are contiguous in x (memory.copy), else gathered one at a time.
  (func (export "im2colTransposed") (param $x i32) (param $patches i32)
        (param $b i32) (param $h i32) (param $w i32) (param $ci i32) (param $oh i32) (param $ow i32)
        (param $fh i32) (param $fw i32) (param $sh i32) (param $sw i32) (param $dh i32) (param $dw i32)
        (param $top i32) (param $left i32)
    (local $kh i32) (local $kw i32) (local $c i32) (local $n i32) (local $y i32) (local $r i32)
    (local $lo i32) (local $hi i32) (local $src i32) (local $end i32) (local $dst i32) (local $step i32)
    (local $rowBytes i32) (local $outRow i32) (local $col0 i32)
    (local.set $rowBytes (i32.shl (i32.mul (local.get $w) (local.get $ci)) (i32.const 2)))
    (local.set $outRow (i32.shl (local.get $ow) (i32.const 2)))
    (local.set $step (i32.shl (i32.mul (local.get $sw) (local.get $ci)) (i32.const 2)))
    (block $khDone (loop $khNext
      (br_if $khDone (i32.ge_s (local.get $kh) (local.get $fh)))
      (local.set $kw (i32.const 0))
      (block $kwDone (loop $kwNext
        (br_if $kwDone (i32.ge_s (local.get $kw) (local.get $fw)))
        ;; output columns xo in [lo, hi) read inside the row: 0 ≤ xo·sw + col0 < w
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
        (local.set $c (i32.const 0))
        (block $cDone (loop $cNext
          (br_if $cDone (i32.ge_s (local.get $c) (local.get $ci)))
          (local.set $n (i32.const 0))
          (block $nDone (loop $nNext
            (br_if $nDone (i32.ge_s (local.get $n) (local.get $b)))
            (local.set $y (i32.const 0))
            (block $yDone (loop $yNext
              (br_if $yDone (i32.ge_s (local.get $y) (local.get $oh)))
              (local.set $r (i32.sub (i32.add (i32.mul (local.get $y) (local.get $sh)) (i32.mul (local.get $kh) (local.get $dh))) (local.get $top)))
              (if (i32.or (i32.lt_s (local.get $r) (i32.const 0)) (i32.ge_s (local.get $r) (local.get $h)))
                (then (memory.fill (local.get $patches) (i32.const 0) (local.get $outRow)))
                (else
                  (memory.fill (local.get $patches) (i32.const 0) (i32.shl (local.get $lo) (i32.const 2)))
                  (local.set $dst (i32.add (local.get $patches) (i32.shl (local.get $lo) (i32.const 2))))
                  (local.set $end (i32.add (local.get $patches) (i32.shl (local.get $hi) (i32.const 2))))
                  (local.set $src (i32.add (local.get $x) (i32.add
                    (i32.mul (i32.add (i32.mul (local.get $n) (local.get $h)) (local.get $r)) (local.get $rowBytes))
                    (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $lo) (local.get $sw)) (local.get $col0)) (local.get $ci)) (local.get $c)) (i32.const 2)))))
                  (if (i32.eq (local.get $step) (i32.const 4))
                    (then (memory.copy (local.get $dst) (local.get $src) (i32.sub (local.get $end) (local.get $dst))))
                    (else
                      (block $done (loop $next
                        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
                        (f32.store (local.get $dst) (f32.load (local.get $src)))
                        (local.set $src (i32.add (local.get $src) (local.get $step)))
                        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                        (br $next)))))
                  (memory.fill (local.get $end) (i32.const 0) (i32.shl (i32.sub (local.get $ow) (local.get $hi)) (i32.const 2)))))
              (local.set $patches (i32.add (local.get $patches) (local.get $outRow)))
              (local.set $y (i32.add (local.get $y) (i32.const 1)))
              (br $yNext)))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $nNext)))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br $cNext)))
        (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
        (br $kwNext)))
      (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
      (br $khNext))))

  ;; out[j] = Σ_r x[r, j] for x [rows, width] (a Sum over the leading axes: bias gradients). Rows are
  ;; added in f32 into out over blocks of 256, each block's sums into the f64 accumulators acc[width].
  (func (export "sumLeadingAxes") (param $x i32) (param $rows i32) (param $width i32) (param $acc i32) (param $out i32)
    (local $r i32) (local $blockEnd i32) (local $j i32) (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $width) (i32.const 2)))
    (memory.fill (local.get $acc) (i32.const 0) (i32.shl (local.get $width) (i32.const 3)))
    (block $done (loop $block
      (br_if $done (i32.ge_s (local.get $r) (local.get $rows)))
      (local.set $blockEnd (select (local.get $rows) (i32.add (local.get $r) (i32.const 256))
        (i32.lt_s (i32.sub (local.get $rows) (local.get $r)) (i32.const 256))))
      (memory.fill (local.get $out) (i32.const 0) (local.get $rowBytes))
      (loop $row
        (call $addRun (local.get $out) (local.get $x) (local.get $width))
        (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $row (i32.lt_s (local.get $r) (local.get $blockEnd))))
      (local.set $j (i32.const 0))
      (block $jDone (loop $jNext
        (br_if $jDone (i32.ge_s (local.get $j) (local.get $width)))
        (f64.store (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 3)))
          (f64.add (f64.load (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 3))))
                   (f64.promote_f32 (f32.load (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2)))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $jNext)))
      (br $block)))
    (local.set $j (i32.const 0))
    (block $jDone (loop $jNext
      (br_if $jDone (i32.ge_s (local.get $j) (local.get $width)))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2)))
        (f32.demote_f64 (f64.load (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 3))))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $jNext))))

  ;; MaxPoolGrad for one channel of one disjoint 2×2 window (byte offsets of its top-left x and dx, the
  ;; window's max m and its dy g): the first element equal to m gets g, the others 0; where m is −∞ or
  ;; NaN, the first strict maximum above −∞ gets g (none: all 0), as the cpu backend.
  (func $poolWindow (param $x i32) (param $dx i32) (param $c4 i32) (param $row4 i32) (param $m f32) (param $g f32)
    (local $p i32) (local $at i32) (local $best f32) (local $k i32) (local $v f32)
    (f32.store (local.get $dx) (f32.const 0))
    (f32.store (i32.add (local.get $dx) (local.get $c4)) (f32.const 0))
    (f32.store (i32.add (local.get $dx) (local.get $row4)) (f32.const 0))
    (f32.store (i32.add (local.get $dx) (i32.add (local.get $row4) (local.get $c4))) (f32.const 0))
    (local.set $at (i32.const -1))
    (local.set $best (f32.const -inf))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $k) (i32.const 4)))
      ;; element k: (k >> 1) rows down, (k & 1) columns right
      (local.set $p (i32.add (i32.mul (i32.shr_u (local.get $k) (i32.const 1)) (local.get $row4))
                             (i32.mul (i32.and (local.get $k) (i32.const 1)) (local.get $c4))))
      (local.set $v (f32.load (i32.add (local.get $x) (local.get $p))))
      (if (i32.and (f32.gt (local.get $m) (f32.const -inf)) (f32.eq (local.get $v) (local.get $m)))
        (then (local.set $at (local.get $p)) (br $done)))
      (if (f32.gt (local.get $v) (local.get $best))
        (then (local.set $best (local.get $v)) (local.set $at (local.get $p))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $next)))
    (if (i32.ge_s (local.get $at) (i32.const 0))
      (then (f32.store (i32.add (local.get $dx) (local.get $at)) (local.get $g)))))

  ;; MaxPoolGrad of a 2×2, stride 2, unpadded max pool, NHWC: x [b, h, w, c], dy and the forward output m
  ;; [b, oh, ow, c]; dx is written at every window position (rows or columns that no window covers must
  ;; be zeroed by the caller). Four channels at a time without branches where every m is above −∞.
  (func (export "maxPoolGrad2x2") (param $x i32) (param $dy i32) (param $m i32) (param $dx i32)
        (param $b i32) (param $h i32) (param $w i32) (param $c i32) (param $oh i32) (param $ow i32)
    (local $n i32) (local $i i32) (local $j i32) (local $d i32) (local $c4 i32) (local $row4 i32)
    (local $corner i32) (local $vm v128) (local $vg v128) (local $e0 v128) (local $e1 v128) (local $e2 v128)
    (local $taken v128) (local $at i32) (local $lane i32)
    (local.set $c4 (i32.shl (local.get $c) (i32.const 2)))
    (local.set $row4 (i32.mul (local.get $w) (local.get $c4)))
    (block $nDone (loop $nNext
      (br_if $nDone (i32.ge_s (local.get $n) (local.get $b)))
      (local.set $i (i32.const 0))
      (block $iDone (loop $iNext
        (br_if $iDone (i32.ge_s (local.get $i) (local.get $oh)))
        (local.set $corner (i32.mul (i32.add (i32.mul (local.get $n) (local.get $h)) (i32.shl (local.get $i) (i32.const 1))) (local.get $row4)))
        (local.set $j (i32.const 0))
        (block $jDone (loop $jNext
          (br_if $jDone (i32.ge_s (local.get $j) (local.get $ow)))
          (local.set $d (i32.const 0))
          (block $dDone (loop $dNext
            (br_if $dDone (i32.gt_s (i32.add (local.get $d) (i32.const 16)) (local.get $c4)))
            (local.set $at (i32.add (local.get $corner) (local.get $d)))
            (local.set $vm (v128.load (local.get $m)))
            (if (i32x4.all_true (f32x4.gt (local.get $vm) (v128.const f32x4 -inf -inf -inf -inf)))
              (then
                (local.set $vg (v128.load (local.get $dy)))
                (local.set $e0 (f32x4.eq (v128.load (i32.add (local.get $x) (local.get $at))) (local.get $vm)))
                (local.set $e1 (v128.andnot (f32x4.eq (v128.load (i32.add (local.get $x) (i32.add (local.get $at) (local.get $c4)))) (local.get $vm)) (local.get $e0)))
                (local.set $taken (v128.or (local.get $e0) (local.get $e1)))
                (local.set $e2 (v128.andnot (f32x4.eq (v128.load (i32.add (local.get $x) (i32.add (local.get $at) (local.get $row4)))) (local.get $vm)) (local.get $taken)))
                (local.set $taken (v128.or (local.get $taken) (local.get $e2)))
                (v128.store (i32.add (local.get $dx) (local.get $at)) (v128.and (local.get $vg) (local.get $e0)))
                (v128.store (i32.add (local.get $dx) (i32.add (local.get $at) (local.get $c4))) (v128.and (local.get $vg) (local.get $e1)))
                (v128.store (i32.add (local.get $dx) (i32.add (local.get $at) (local.get $row4))) (v128.and (local.get $vg) (local.get $e2)))
                (v128.store (i32.add (local.get $dx) (i32.add (local.get $at) (i32.add (local.get $row4) (local.get $c4))))
                  (v128.andnot (local.get $vg) (local.get $taken))))
              (else
                (local.set $lane (i32.const 0))
                (block $lDone (loop $lNext
                  (br_if $lDone (i32.ge_s (local.get $lane) (i32.const 16)))
                  (call $poolWindow (i32.add (local.get $x) (i32.add (local.get $at) (local.get $lane)))
                    (i32.add (local.get $dx) (i32.add (local.get $at) (local.get $lane))) (local.get $c4) (local.get $row4)
                    (f32.load (i32.add (local.get $m) (local.get $lane))) (f32.load (i32.add (local.get $dy) (local.get $lane))))
                  (local.set $lane (i32.add (local.get $lane) (i32.const 4)))
                  (br $lNext)))))
            (local.set $m (i32.add (local.get $m) (i32.const 16)))
            (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
            (local.set $d (i32.add (local.get $d) (i32.const 16)))
            (br $dNext)))
          ;; the last c mod 4 channels one at a time
          (block $tDone (loop $tNext
            (br_if $tDone (i32.ge_s (local.get $d) (local.get $c4)))
            (call $poolWindow (i32.add (local.get $x) (i32.add (local.get $corner) (local.get $d)))
              (i32.add (local.get $dx) (i32.add (local.get $corner) (local.get $d))) (local.get $c4) (local.get $row4)
              (f32.load (local.get $m)) (f32.load (local.get $dy)))
            (local.set $m (i32.add (local.get $m) (i32.const 4)))
            (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
            (local.set $d (i32.add (local.get $d) (i32.const 4)))
            (br $tNext)))
          (local.set $corner (i32.add (local.get $corner) (i32.shl (local.get $c4) (i32.const 1))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $jNext)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $iNext)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nNext)))))

;; Matrix-vector products for tfjs-backend-wasm's heap, with 128-bit SIMD (see heapKernels.ts for why).
;; All pointers are byte offsets of float32 arrays in the imported memory (tfjs's own heap).
(module
  (import "env" "memory" (memory 1)) ;; MEMORY (build-wasm-kernels.mjs makes a shared variant)

  ;; y[n] = Σ_k w[n·K + k] · x[k] for n < N: w is [N, K] row-major (an nn.Linear weight), x is [K].
  ;; Four rows at a time share each load of x; four lanes per row, summed at the end of the row.
  (func (export "gemv") (param $w i32) (param $x i32) (param $y i32) (param $N i32) (param $K i32)
    (local $n i32) (local $k i32) (local $K4 i32) (local $stride i32) (local $off i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $xv v128)
    (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32) (local $xs f32)
    (local.set $K4 (i32.and (local.get $K) (i32.const -4)))
    (local.set $stride (i32.shl (local.get $K) (i32.const 2)))
    (block $rows4_done
      (loop $rows4
        (br_if $rows4_done (i32.gt_u (i32.add (local.get $n) (i32.const 4)) (local.get $N)))
        (local.set $r0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $stride))))
        (local.set $r1 (i32.add (local.get $r0) (local.get $stride)))
        (local.set $r2 (i32.add (local.get $r1) (local.get $stride)))
        (local.set $r3 (i32.add (local.get $r2) (local.get $stride)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $k4_done
          (loop $k4
            (br_if $k4_done (i32.ge_u (local.get $k) (local.get $K4)))
            (local.set $off (i32.shl (local.get $k) (i32.const 2)))
            (local.set $xv (v128.load (i32.add (local.get $x) (local.get $off))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (i32.add (local.get $r0) (local.get $off))) (local.get $xv))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load (i32.add (local.get $r1) (local.get $off))) (local.get $xv))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load (i32.add (local.get $r2) (local.get $off))) (local.get $xv))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load (i32.add (local.get $r3) (local.get $off))) (local.get $xv))))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $k4)))
        (local.set $s0 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
                                (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
        (local.set $s1 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a1)) (f32x4.extract_lane 1 (local.get $a1)))
                                (f32.add (f32x4.extract_lane 2 (local.get $a1)) (f32x4.extract_lane 3 (local.get $a1)))))
        (local.set $s2 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a2)) (f32x4.extract_lane 1 (local.get $a2)))
                                (f32.add (f32x4.extract_lane 2 (local.get $a2)) (f32x4.extract_lane 3 (local.get $a2)))))
        (local.set $s3 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a3)) (f32x4.extract_lane 1 (local.get $a3)))
                                (f32.add (f32x4.extract_lane 2 (local.get $a3)) (f32x4.extract_lane 3 (local.get $a3)))))
        ;; the K mod 4 tail
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $off (i32.shl (local.get $k) (i32.const 2)))
            (local.set $xs (f32.load (i32.add (local.get $x) (local.get $off))))
            (local.set $s0 (f32.add (local.get $s0) (f32.mul (f32.load (i32.add (local.get $r0) (local.get $off))) (local.get $xs))))
            (local.set $s1 (f32.add (local.get $s1) (f32.mul (f32.load (i32.add (local.get $r1) (local.get $off))) (local.get $xs))))
            (local.set $s2 (f32.add (local.get $s2) (f32.mul (f32.load (i32.add (local.get $r2) (local.get $off))) (local.get $xs))))
            (local.set $s3 (f32.add (local.get $s3) (f32.mul (f32.load (i32.add (local.get $r3) (local.get $off))) (local.get $xs))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $tail)))
        (local.set $off (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2))))
        (f32.store offset=0 (local.get $off) (local.get $s0))
        (f32.store offset=4 (local.get $off) (local.get $s1))
        (f32.store offset=8 (local.get $off) (local.get $s2))
        (f32.store offset=12 (local.get $off) (local.get $s3))
        (local.set $n (i32.add (local.get $n) (i32.const 4)))
        (br $rows4)))
    ;; the N mod 4 last rows, one at a time
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $r0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $stride))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $k1_done
          (loop $k1
            (br_if $k1_done (i32.ge_u (local.get $k) (local.get $K4)))
            (local.set $off (i32.shl (local.get $k) (i32.const 2)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (i32.add (local.get $r0) (local.get $off))) (v128.load (i32.add (local.get $x) (local.get $off))))))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $k1)))
        (local.set $s0 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
                                (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
        (block $t1_done
          (loop $t1
            (br_if $t1_done (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $off (i32.shl (local.get $k) (i32.const 2)))
            (local.set $s0 (f32.add (local.get $s0) (f32.mul (f32.load (i32.add (local.get $r0) (local.get $off))) (f32.load (i32.add (local.get $x) (local.get $off))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $t1)))
        (f32.store (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2))) (local.get $s0))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $rows)))
  )

  ;; y[n] = Σ_k x[k] · b[k·N + n] for n < N: b is [K, N] row-major, x is [K]. Sixteen outputs at a
  ;; time stay in registers while the rows of b stream past.
  (func (export "vecmat") (param $x i32) (param $b i32) (param $y i32) (param $K i32) (param $N i32)
    (local $n i32) (local $k i32) (local $stride i32) (local $p i32) (local $xv v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $s f32)
    (local.set $stride (i32.shl (local.get $N) (i32.const 2)))
    (block $c16_done
      (loop $c16
        (br_if $c16_done (i32.gt_u (i32.add (local.get $n) (i32.const 16)) (local.get $N)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $k (i32.const 0))
        (block $k_done
          (loop $kl
            (br_if $k_done (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $xv (f32x4.splat (f32.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2))))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load offset=0 (local.get $p)) (local.get $xv))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $p)) (local.get $xv))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $p)) (local.get $xv))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (local.get $p)) (local.get $xv))))
            (local.set $p (i32.add (local.get $p) (local.get $stride)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kl)))
        (local.set $p (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2))))
        (v128.store offset=0 (local.get $p) (local.get $a0))
        (v128.store offset=16 (local.get $p) (local.get $a1))
        (v128.store offset=32 (local.get $p) (local.get $a2))
        (v128.store offset=48 (local.get $p) (local.get $a3))
        (local.set $n (i32.add (local.get $n) (i32.const 16)))
        (br $c16)))
    ;; the N mod 16 last columns, one at a time
    (block $c1_done
      (loop $c1
        (br_if $c1_done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $s (f32.const 0))
        (local.set $p (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $k (i32.const 0))
        (block $kk_done
          (loop $kk
            (br_if $kk_done (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))) (f32.load (local.get $p)))))
            (local.set $p (i32.add (local.get $p) (local.get $stride)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kk)))
        (f32.store (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2))) (local.get $s))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $c1)))
  )

  ;; dst[b, c, r, :] = src[b, r, c, :]: two adjacent axes swapped (every transpose the engine does:
  ;; [0, 2, 1] for matmul operands, [0, 2, 1, 3] for attention heads). Sizes in floats. With inner = 1
  ;; a 32 × 32 tile is read and written while it is in the cache; otherwise rows of `inner` floats move
  ;; as blocks.
  (func (export "swapAxes") (param $src i32) (param $dst i32) (param $batch i32) (param $rows i32) (param $cols i32) (param $inner i32)
    (local $b i32) (local $r i32) (local $c i32) (local $r0 i32) (local $c0 i32) (local $rEnd i32) (local $cEnd i32)
    (local $plane i32) (local $s i32) (local $d i32) (local $bytes i32)
    (local.set $plane (i32.shl (i32.mul (i32.mul (local.get $rows) (local.get $cols)) (local.get $inner)) (i32.const 2)))
    (local.set $bytes (i32.shl (local.get $inner) (i32.const 2)))
    (block $batches_done
      (loop $batches
        (br_if $batches_done (i32.ge_u (local.get $b) (local.get $batch)))
        (local.set $s (i32.add (local.get $src) (i32.mul (local.get $b) (local.get $plane))))
        (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $b) (local.get $plane))))
        (if (i32.eq (local.get $inner) (i32.const 1))
          (then
            (local.set $r0 (i32.const 0))
            (block $r0_done
              (loop $r0_loop
                (br_if $r0_done (i32.ge_u (local.get $r0) (local.get $rows)))
                (local.set $rEnd (select (local.get $rows) (i32.add (local.get $r0) (i32.const 32))
                  (i32.gt_u (i32.add (local.get $r0) (i32.const 32)) (local.get $rows))))
                (local.set $c0 (i32.const 0))
                (block $c0_done
                  (loop $c0_loop
                    (br_if $c0_done (i32.ge_u (local.get $c0) (local.get $cols)))
                    (local.set $cEnd (select (local.get $cols) (i32.add (local.get $c0) (i32.const 32))
                      (i32.gt_u (i32.add (local.get $c0) (i32.const 32)) (local.get $cols))))
                    (local.set $r (local.get $r0))
                    (block $r_done
                      (loop $r_loop
                        (br_if $r_done (i32.ge_u (local.get $r) (local.get $rEnd)))
                        (local.set $c (local.get $c0))
                        (block $c_done
                          (loop $c_loop
                            (br_if $c_done (i32.ge_u (local.get $c) (local.get $cEnd)))
                            (f32.store
                              (i32.add (local.get $d) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2)))
                              (f32.load (i32.add (local.get $s) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2)))))
                            (local.set $c (i32.add (local.get $c) (i32.const 1)))
                            (br $c_loop)))
                        (local.set $r (i32.add (local.get $r) (i32.const 1)))
                        (br $r_loop)))
                    (local.set $c0 (i32.add (local.get $c0) (i32.const 32)))
                    (br $c0_loop)))
                (local.set $r0 (i32.add (local.get $r0) (i32.const 32)))
                (br $r0_loop))))
          (else
            (local.set $r (i32.const 0))
            (block $rb_done
              (loop $rb
                (br_if $rb_done (i32.ge_u (local.get $r) (local.get $rows)))
                (local.set $c (i32.const 0))
                (block $cb_done
                  (loop $cb
                    (br_if $cb_done (i32.ge_u (local.get $c) (local.get $cols)))
                    (memory.copy
                      (i32.add (local.get $d) (i32.mul (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (local.get $bytes)))
                      (i32.add (local.get $s) (i32.mul (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (local.get $bytes)))
                      (local.get $bytes))
                    (local.set $c (i32.add (local.get $c) (i32.const 1)))
                    (br $cb)))
                (local.set $r (i32.add (local.get $r) (i32.const 1)))
                (br $rb)))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $batches)))
  )

  ;; acc[i] += x[i] for i < n (partial products summed over blocks of K, wasmMatMul.ts).
  (func (export "addInPlace") (param $acc i32) (param $x i32) (param $n i32)
    (local $i i32) (local $n4 i32) (local $off i32)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (block $v_done
      (loop $v
        (br_if $v_done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (v128.store (i32.add (local.get $acc) (local.get $off))
          (f32x4.add (v128.load (i32.add (local.get $acc) (local.get $off))) (v128.load (i32.add (local.get $x) (local.get $off)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $v)))
    (block $s_done
      (loop $sl
        (br_if $s_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (f32.store (i32.add (local.get $acc) (local.get $off))
          (f32.add (f32.load (i32.add (local.get $acc) (local.get $off))) (f32.load (i32.add (local.get $x) (local.get $off)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sl)))
  )

  ;; RMSNorm over rows of D floats: y[i, j] = (x[i, j]·r_i)·w[j], r_i = 1 / sqrt(Σ_j x[i, j]² / D + eps).
  ;; The composite's operations in its order (square, mean, add eps, rsqrt, two products); the sum
  ;; of squares one by one, as tfjs-wasm's Mean adds (a sum in lanes would round differently).
  (func (export "rmsNorm") (param $x i32) (param $w i32) (param $y i32) (param $rows i32) (param $D i32) (param $eps f32)
    (local $i i32) (local $j i32) (local $D4 i32) (local $xr i32) (local $yr i32) (local $off i32)
    (local $rv v128) (local $s f32) (local $r f32)
    (local.set $D4 (i32.and (local.get $D) (i32.const -4)))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $xr (i32.add (local.get $x) (i32.shl (i32.mul (local.get $i) (local.get $D)) (i32.const 2))))
        (local.set $yr (i32.add (local.get $y) (i32.shl (i32.mul (local.get $i) (local.get $D)) (i32.const 2))))
        (local.set $s (f32.const 0))
        (local.set $j (i32.const 0))
        (block $sq_done
          (loop $sq
            (br_if $sq_done (i32.ge_u (local.get $j) (local.get $D)))
            (local.set $r (f32.load (i32.add (local.get $xr) (i32.shl (local.get $j) (i32.const 2)))))
            (local.set $s (f32.add (local.get $s) (f32.mul (local.get $r) (local.get $r))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $sq)))
        (local.set $r (f32.div (f32.const 1)
          (f32.sqrt (f32.add (f32.div (local.get $s) (f32.convert_i32_u (local.get $D))) (local.get $eps)))))
        (local.set $rv (f32x4.splat (local.get $r)))
        (local.set $j (i32.const 0))
        (block $out_done
          (loop $out
            (br_if $out_done (i32.ge_u (local.get $j) (local.get $D4)))
            (local.set $off (i32.shl (local.get $j) (i32.const 2)))
            (v128.store (i32.add (local.get $yr) (local.get $off))
              (f32x4.mul (f32x4.mul (v128.load (i32.add (local.get $xr) (local.get $off))) (local.get $rv))
                         (v128.load (i32.add (local.get $w) (local.get $off)))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $out)))
        (block $out_tail_done
          (loop $out_tail
            (br_if $out_tail_done (i32.ge_u (local.get $j) (local.get $D)))
            (local.set $off (i32.shl (local.get $j) (i32.const 2)))
            (f32.store (i32.add (local.get $yr) (local.get $off))
              (f32.mul (f32.mul (f32.load (i32.add (local.get $xr) (local.get $off))) (local.get $r))
                       (f32.load (i32.add (local.get $w) (local.get $off)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $out_tail)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row)))
  )

  ;; Rotary embedding and the [B, T, H, hd] → [B, H, T, hd] transpose in one pass:
  ;; dst[b, h, t, j] = x[j]·cos[t, j] + rotate_half(x)[j]·sin[t, j] for x = src[b, t, h, :], with
  ;; rotate_half(x) = [-x[half..rot), x[0..half), 0 beyond rot] (rot = rotary_dim, half = rot / 2):
  ;; the composite's products and sum, in its order (its rotation is an exact signed permutation).
  (func (export "rope") (param $src i32) (param $cos i32) (param $sin i32) (param $dst i32)
        (param $B i32) (param $T i32) (param $H i32) (param $hd i32) (param $rot i32)
    (local $b i32) (local $t i32) (local $h i32) (local $j i32) (local $half i32)
    (local $xr i32) (local $yr i32) (local $tr i32) (local $turned f32)
    (local.set $half (i32.shr_u (local.get $rot) (i32.const 1)))
    (block $b_done (loop $bl (br_if $b_done (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $t (i32.const 0))
      (block $t_done (loop $tl (br_if $t_done (i32.ge_u (local.get $t) (local.get $T)))
        (local.set $tr (i32.shl (i32.mul (local.get $t) (local.get $hd)) (i32.const 2)))
        (local.set $h (i32.const 0))
        (block $h_done (loop $hl (br_if $h_done (i32.ge_u (local.get $h) (local.get $H)))
          ;; src row ((b·T + t)·H + h), dst row ((b·H + h)·T + t), each hd floats
          (local.set $xr (i32.add (local.get $src) (i32.shl (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $T)) (local.get $t)) (local.get $H)) (local.get $h)) (local.get $hd)) (i32.const 2))))
          (local.set $yr (i32.add (local.get $dst) (i32.shl (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $h)) (local.get $T)) (local.get $t)) (local.get $hd)) (i32.const 2))))
          (local.set $j (i32.const 0))
          (block $j_done (loop $jl (br_if $j_done (i32.ge_u (local.get $j) (local.get $hd)))
            (local.set $turned
              (if (result f32) (i32.lt_u (local.get $j) (local.get $half))
                (then (f32.neg (f32.load (i32.add (local.get $xr) (i32.shl (i32.add (local.get $j) (local.get $half)) (i32.const 2))))))
                (else (if (result f32) (i32.lt_u (local.get $j) (local.get $rot))
                  (then (f32.load (i32.add (local.get $xr) (i32.shl (i32.sub (local.get $j) (local.get $half)) (i32.const 2)))))
                  (else (f32.const 0))))))
            (f32.store (i32.add (local.get $yr) (i32.shl (local.get $j) (i32.const 2)))
              (f32.add (f32.mul (f32.load (i32.add (local.get $xr) (i32.shl (local.get $j) (i32.const 2))))
                                (f32.load (i32.add (i32.add (local.get $cos) (local.get $tr)) (i32.shl (local.get $j) (i32.const 2)))))
                       (f32.mul (local.get $turned)
                                (f32.load (i32.add (i32.add (local.get $sin) (local.get $tr)) (i32.shl (local.get $j) (i32.const 2)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $jl)))
          (local.set $h (i32.add (local.get $h) (i32.const 1)))
          (br $hl)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $tl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl)))
  )

  ;; out[i] = y[i] + out[i]·s for i < n: a LoRA delta (in out) scaled and added to its projection.
  (func (export "scaleAdd") (param $out i32) (param $y i32) (param $s f32) (param $n i32)
    (local $i i32) (local $n4 i32) (local $off i32) (local $sv v128)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $sv (f32x4.splat (local.get $s)))
    (block $v_done
      (loop $v
        (br_if $v_done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (v128.store (i32.add (local.get $out) (local.get $off))
          (f32x4.add (v128.load (i32.add (local.get $y) (local.get $off))) (f32x4.mul (v128.load (i32.add (local.get $out) (local.get $off))) (local.get $sv))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $v)))
    (block $s_done
      (loop $sl
        (br_if $s_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (f32.store (i32.add (local.get $out) (local.get $off))
          (f32.add (f32.load (i32.add (local.get $y) (local.get $off))) (f32.mul (f32.load (i32.add (local.get $out) (local.get $off))) (local.get $s))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sl)))
  )
)

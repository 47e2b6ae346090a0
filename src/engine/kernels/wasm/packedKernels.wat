;; Kernels that read packed frozen weights (issue 18; layout in src/engine/packedWeight.ts) in place on
;; tfjs-backend-wasm's heap and widen them in registers (128-bit SIMD). See packedKernels.ts for why.
;; Pointers are byte offsets into the imported memory (tfjs's heap); sizes are in elements.
(module
  (import "env" "memory" (memory 1)) ;; MEMORY (build-wasm-kernels.mjs makes a shared variant)

  ;; IEEE half → float32 on four lanes, exactly: the exponent and mantissa bits moved into a float32
  ;; and scaled by 2^112 (normals and subnormals alike); infinities and NaNs get an all-ones exponent.
  (func $f16x4 (param $h v128) (result v128)
    (local $em v128) (local $scaled v128)
    (local.set $em (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)) (i32.const 13)))
    (local.set $scaled (f32x4.mul (local.get $em) (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000)))
    (v128.or
      (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16))
      (v128.bitselect
        (v128.or (local.get $em) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
        (local.get $scaled)
        (i32x4.eq (v128.and (local.get $h) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)))))

  (func $f16 (param $h i32) (result f32)
    (f32x4.extract_lane 0 (call $f16x4 (i32x4.splat (local.get $h)))))


  ;; y[n] = Σ_k widen(w[n, k])·x[k], w bf16 rows of $rowBytes bytes. The same order of operations as
  ;; the float32 gemv of heapKernels.wat (four lanes per row over k < K - K mod 4, lanes summed
  ;; pairwise, then the tail), so a widened weight gives bit-identical results.
  (func (export "gemv_bf16") (param $w i32) (param $x i32) (param $y i32) (param $N i32) (param $K i32) (param $rowBytes i32)
    (local $n i32) (local $k i32) (local $K4 i32) (local $off i32) (local $xo i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $xv v128)
    (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32) (local $xs f32)
    (local.set $K4 (i32.and (local.get $K) (i32.const -4)))
    (block $rows4_done
      (loop $rows4
        (br_if $rows4_done (i32.gt_u (i32.add (local.get $n) (i32.const 4)) (local.get $N)))
        (local.set $r0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $rowBytes))))
        (local.set $r1 (i32.add (local.get $r0) (local.get $rowBytes)))
        (local.set $r2 (i32.add (local.get $r1) (local.get $rowBytes)))
        (local.set $r3 (i32.add (local.get $r2) (local.get $rowBytes)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $k4_done
          (loop $k4
            (br_if $k4_done (i32.ge_u (local.get $k) (local.get $K4)))
            (local.set $off (i32.shl (local.get $k) (i32.const 1)))
            (local.set $xv (v128.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (i32x4.shl (v128.load16x4_u (i32.add (local.get $r0) (local.get $off))) (i32.const 16)) (local.get $xv))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (i32x4.shl (v128.load16x4_u (i32.add (local.get $r1) (local.get $off))) (i32.const 16)) (local.get $xv))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (i32x4.shl (v128.load16x4_u (i32.add (local.get $r2) (local.get $off))) (i32.const 16)) (local.get $xv))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (i32x4.shl (v128.load16x4_u (i32.add (local.get $r3) (local.get $off))) (i32.const 16)) (local.get $xv))))
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
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $off (i32.shl (local.get $k) (i32.const 1)))
            (local.set $xs (f32.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $s0 (f32.add (local.get $s0) (f32.mul (f32.reinterpret_i32 (i32.shl (i32.load16_u (i32.add (local.get $r0) (local.get $off))) (i32.const 16))) (local.get $xs))))
            (local.set $s1 (f32.add (local.get $s1) (f32.mul (f32.reinterpret_i32 (i32.shl (i32.load16_u (i32.add (local.get $r1) (local.get $off))) (i32.const 16))) (local.get $xs))))
            (local.set $s2 (f32.add (local.get $s2) (f32.mul (f32.reinterpret_i32 (i32.shl (i32.load16_u (i32.add (local.get $r2) (local.get $off))) (i32.const 16))) (local.get $xs))))
            (local.set $s3 (f32.add (local.get $s3) (f32.mul (f32.reinterpret_i32 (i32.shl (i32.load16_u (i32.add (local.get $r3) (local.get $off))) (i32.const 16))) (local.get $xs))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $tail)))
        (local.set $off (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2))))
        (f32.store offset=0 (local.get $off) (local.get $s0))
        (f32.store offset=4 (local.get $off) (local.get $s1))
        (f32.store offset=8 (local.get $off) (local.get $s2))
        (f32.store offset=12 (local.get $off) (local.get $s3))
        (local.set $n (i32.add (local.get $n) (i32.const 4)))
        (br $rows4)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $r0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $rowBytes))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $k1_done
          (loop $k1
            (br_if $k1_done (i32.ge_u (local.get $k) (local.get $K4)))
            (local.set $off (i32.shl (local.get $k) (i32.const 1)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (i32x4.shl (v128.load16x4_u (i32.add (local.get $r0) (local.get $off))) (i32.const 16)) (v128.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $k1)))
        (local.set $s0 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
                                (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
        (block $t1_done
          (loop $t1
            (br_if $t1_done (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $off (i32.shl (local.get $k) (i32.const 1)))
            (local.set $s0 (f32.add (local.get $s0) (f32.mul (f32.reinterpret_i32 (i32.shl (i32.load16_u (i32.add (local.get $r0) (local.get $off))) (i32.const 16))) (f32.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $t1)))
        (f32.store (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2))) (local.get $s0))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $rows))))

  ;; y[n] = Σ_k widen(w[n, k])·x[k], w f16 rows of $rowBytes bytes. The same order of operations as
  ;; the float32 gemv of heapKernels.wat (four lanes per row over k < K - K mod 4, lanes summed
  ;; pairwise, then the tail), so a widened weight gives bit-identical results.
  (func (export "gemv_f16") (param $w i32) (param $x i32) (param $y i32) (param $N i32) (param $K i32) (param $rowBytes i32)
    (local $n i32) (local $k i32) (local $K4 i32) (local $off i32) (local $xo i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $xv v128)
    (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32) (local $xs f32)
    (local.set $K4 (i32.and (local.get $K) (i32.const -4)))
    (block $rows4_done
      (loop $rows4
        (br_if $rows4_done (i32.gt_u (i32.add (local.get $n) (i32.const 4)) (local.get $N)))
        (local.set $r0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $rowBytes))))
        (local.set $r1 (i32.add (local.get $r0) (local.get $rowBytes)))
        (local.set $r2 (i32.add (local.get $r1) (local.get $rowBytes)))
        (local.set $r3 (i32.add (local.get $r2) (local.get $rowBytes)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $k4_done
          (loop $k4
            (br_if $k4_done (i32.ge_u (local.get $k) (local.get $K4)))
            (local.set $off (i32.shl (local.get $k) (i32.const 1)))
            (local.set $xv (v128.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (call $f16x4 (v128.load16x4_u (i32.add (local.get $r0) (local.get $off)))) (local.get $xv))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (call $f16x4 (v128.load16x4_u (i32.add (local.get $r1) (local.get $off)))) (local.get $xv))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (call $f16x4 (v128.load16x4_u (i32.add (local.get $r2) (local.get $off)))) (local.get $xv))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (call $f16x4 (v128.load16x4_u (i32.add (local.get $r3) (local.get $off)))) (local.get $xv))))
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
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $off (i32.shl (local.get $k) (i32.const 1)))
            (local.set $xs (f32.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $s0 (f32.add (local.get $s0) (f32.mul (call $f16 (i32.load16_u (i32.add (local.get $r0) (local.get $off)))) (local.get $xs))))
            (local.set $s1 (f32.add (local.get $s1) (f32.mul (call $f16 (i32.load16_u (i32.add (local.get $r1) (local.get $off)))) (local.get $xs))))
            (local.set $s2 (f32.add (local.get $s2) (f32.mul (call $f16 (i32.load16_u (i32.add (local.get $r2) (local.get $off)))) (local.get $xs))))
            (local.set $s3 (f32.add (local.get $s3) (f32.mul (call $f16 (i32.load16_u (i32.add (local.get $r3) (local.get $off)))) (local.get $xs))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $tail)))
        (local.set $off (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2))))
        (f32.store offset=0 (local.get $off) (local.get $s0))
        (f32.store offset=4 (local.get $off) (local.get $s1))
        (f32.store offset=8 (local.get $off) (local.get $s2))
        (f32.store offset=12 (local.get $off) (local.get $s3))
        (local.set $n (i32.add (local.get $n) (i32.const 4)))
        (br $rows4)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $r0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $rowBytes))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $k1_done
          (loop $k1
            (br_if $k1_done (i32.ge_u (local.get $k) (local.get $K4)))
            (local.set $off (i32.shl (local.get $k) (i32.const 1)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (call $f16x4 (v128.load16x4_u (i32.add (local.get $r0) (local.get $off)))) (v128.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $k1)))
        (local.set $s0 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
                                (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
        (block $t1_done
          (loop $t1
            (br_if $t1_done (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $off (i32.shl (local.get $k) (i32.const 1)))
            (local.set $s0 (f32.add (local.get $s0) (f32.mul (call $f16 (i32.load16_u (i32.add (local.get $r0) (local.get $off)))) (f32.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $t1)))
        (f32.store (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2))) (local.get $s0))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $rows))))

  ;; y[n] = scale[n]·Σ_k q[n, k]·x[k], q int8 rows of $rowBytes bytes: eight weights per load, widened
  ;; to two float32 vectors; the row scale multiplies the row's sum once.
  (func (export "gemv_int8") (param $w i32) (param $scales i32) (param $x i32) (param $y i32) (param $N i32) (param $K i32) (param $rowBytes i32)
    (local $n i32) (local $k i32) (local $K8 i32) (local $rows i32) (local $i i32) (local $r i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $xl v128) (local $xh v128) (local $q v128) (local $s f32) (local $xs f32)
    (local.set $K8 (i32.and (local.get $K) (i32.const -8)))
    (block $done
      (loop $rows4
        (br_if $done (i32.ge_u (local.get $n) (local.get $N)))
        ;; four rows at a time; the last group may hold fewer (rows past N repeat the last row, unused)
        (local.set $rows (i32.sub (local.get $N) (local.get $n)))
        (if (i32.gt_u (local.get $rows) (i32.const 4)) (then (local.set $rows (i32.const 4))))
        (local.set $r0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $rowBytes))))
        (local.set $r1 (select (i32.add (local.get $r0) (local.get $rowBytes)) (local.get $r0) (i32.gt_u (local.get $rows) (i32.const 1))))
        (local.set $r2 (select (i32.add (local.get $r1) (local.get $rowBytes)) (local.get $r1) (i32.gt_u (local.get $rows) (i32.const 2))))
        (local.set $r3 (select (i32.add (local.get $r2) (local.get $rowBytes)) (local.get $r2) (i32.gt_u (local.get $rows) (i32.const 3))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $b2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $b3 (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $k8_done
          (loop $k8
            (br_if $k8_done (i32.ge_u (local.get $k) (local.get $K8)))
            (local.set $xl (v128.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $xh (v128.load offset=16 (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $q (v128.load8x8_s (i32.add (local.get $r0) (local.get $k))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $q))) (local.get $xl))))
            (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $q))) (local.get $xh))))
            (local.set $q (v128.load8x8_s (i32.add (local.get $r1) (local.get $k))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $q))) (local.get $xl))))
            (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $q))) (local.get $xh))))
            (local.set $q (v128.load8x8_s (i32.add (local.get $r2) (local.get $k))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $q))) (local.get $xl))))
            (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $q))) (local.get $xh))))
            (local.set $q (v128.load8x8_s (i32.add (local.get $r3) (local.get $k))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $q))) (local.get $xl))))
            (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $q))) (local.get $xh))))
            (local.set $k (i32.add (local.get $k) (i32.const 8)))
            (br $k8)))
        ;; per row: lanes summed, the K mod 8 tail, the scale; stored for the rows that exist
        (local.set $i (i32.const 0))
        (block $store_done
          (loop $store
            (br_if $store_done (i32.ge_u (local.get $i) (local.get $rows)))
            (local.set $q (select (local.get $a0) (select (local.get $a1) (select (local.get $a2) (local.get $a3) (i32.eq (local.get $i) (i32.const 2))) (i32.eq (local.get $i) (i32.const 1))) (i32.eq (local.get $i) (i32.const 0))))
            (local.set $q (f32x4.add (local.get $q) (select (local.get $b0) (select (local.get $b1) (select (local.get $b2) (local.get $b3) (i32.eq (local.get $i) (i32.const 2))) (i32.eq (local.get $i) (i32.const 1))) (i32.eq (local.get $i) (i32.const 0)))))
            (local.set $s (f32.add (f32.add (f32x4.extract_lane 0 (local.get $q)) (f32x4.extract_lane 1 (local.get $q)))
                                   (f32.add (f32x4.extract_lane 2 (local.get $q)) (f32x4.extract_lane 3 (local.get $q)))))
            (local.set $r (i32.add (local.get $r0) (i32.mul (local.get $i) (local.get $rowBytes))))
            (local.set $k (local.get $K8))
            (block $tail_done
              (loop $tail
                (br_if $tail_done (i32.ge_u (local.get $k) (local.get $K)))
                (local.set $s (f32.add (local.get $s) (f32.mul (f32.convert_i32_s (i32.load8_s (i32.add (local.get $r) (local.get $k))))
                                                                (f32.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $tail)))
            (f32.store (i32.add (local.get $y) (i32.shl (i32.add (local.get $n) (local.get $i)) (i32.const 2)))
              (f32.mul (local.get $s) (f32.load (i32.add (local.get $scales) (i32.shl (i32.add (local.get $n) (local.get $i)) (i32.const 2))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $store)))
        (local.set $n (i32.add (local.get $n) (i32.const 4)))
        (br $rows4))))


  ;; y[n] = Σ_blocks absmax_b·Σ_{k in b} level[code[n, k]]·x[k] for nf4 weights whose K is a multiple
  ;; of 64 (every block inside one row). $pairs: 256 pairs of float32, pair j = (level[j & 15],
  ;; level[j >> 4]): one byte of codes → two weights with one 64-bit load.
  (func (export "gemv_nf4") (param $w i32) (param $scales i32) (param $pairs i32) (param $x i32) (param $y i32) (param $N i32) (param $K i32)
    (local $n i32) (local $k i32) (local $kb i32) (local $rows i32) (local $i i32) (local $rowBytes i32) (local $blocks i32) (local $sc i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $p i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $xl v128) (local $xh v128) (local $v v128) (local $s f32)
    (local.set $rowBytes (i32.shr_u (local.get $K) (i32.const 1)))
    (local.set $blocks (i32.shr_u (local.get $K) (i32.const 6)))
    (block $done
      (loop $rows4
        (br_if $done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $rows (i32.sub (local.get $N) (local.get $n)))
        (if (i32.gt_u (local.get $rows) (i32.const 4)) (then (local.set $rows (i32.const 4))))
        (local.set $r0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $rowBytes))))
        (local.set $r1 (select (i32.add (local.get $r0) (local.get $rowBytes)) (local.get $r0) (i32.gt_u (local.get $rows) (i32.const 1))))
        (local.set $r2 (select (i32.add (local.get $r1) (local.get $rowBytes)) (local.get $r1) (i32.gt_u (local.get $rows) (i32.const 2))))
        (local.set $r3 (select (i32.add (local.get $r2) (local.get $rowBytes)) (local.get $r2) (i32.gt_u (local.get $rows) (i32.const 3))))
        ;; scale pointer of block 0 of each row (rows past N reuse the last row's)
        (local.set $sc (i32.add (local.get $scales) (i32.shl (i32.mul (local.get $n) (local.get $blocks)) (i32.const 2))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $blocks_done
          (loop $block
            (br_if $blocks_done (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $c0 (v128.const i32x4 0 0 0 0))
            (local.set $c1 (v128.const i32x4 0 0 0 0))
            (local.set $c2 (v128.const i32x4 0 0 0 0))
            (local.set $c3 (v128.const i32x4 0 0 0 0))
            (local.set $kb (i32.add (local.get $k) (i32.const 64)))
            (loop $k8
              (local.set $xl (v128.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))
              (local.set $xh (v128.load offset=16 (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))
              (local.set $p (i32.add (local.get $r0) (i32.shr_u (local.get $k) (i32.const 1))))
              (local.set $v (v128.load64_zero (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=0 (local.get $p)) (i32.const 3)))))
              (local.set $v (v128.load64_lane 1 (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 3))) (local.get $v)))
              (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $v) (local.get $xl))))
              (local.set $v (v128.load64_zero (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 3)))))
              (local.set $v (v128.load64_lane 1 (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=3 (local.get $p)) (i32.const 3))) (local.get $v)))
              (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $v) (local.get $xh))))
              (local.set $p (i32.add (local.get $r1) (i32.shr_u (local.get $k) (i32.const 1))))
              (local.set $v (v128.load64_zero (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=0 (local.get $p)) (i32.const 3)))))
              (local.set $v (v128.load64_lane 1 (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 3))) (local.get $v)))
              (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $v) (local.get $xl))))
              (local.set $v (v128.load64_zero (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 3)))))
              (local.set $v (v128.load64_lane 1 (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=3 (local.get $p)) (i32.const 3))) (local.get $v)))
              (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $v) (local.get $xh))))
              (local.set $p (i32.add (local.get $r2) (i32.shr_u (local.get $k) (i32.const 1))))
              (local.set $v (v128.load64_zero (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=0 (local.get $p)) (i32.const 3)))))
              (local.set $v (v128.load64_lane 1 (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 3))) (local.get $v)))
              (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $v) (local.get $xl))))
              (local.set $v (v128.load64_zero (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 3)))))
              (local.set $v (v128.load64_lane 1 (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=3 (local.get $p)) (i32.const 3))) (local.get $v)))
              (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $v) (local.get $xh))))
              (local.set $p (i32.add (local.get $r3) (i32.shr_u (local.get $k) (i32.const 1))))
              (local.set $v (v128.load64_zero (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=0 (local.get $p)) (i32.const 3)))))
              (local.set $v (v128.load64_lane 1 (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 3))) (local.get $v)))
              (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $v) (local.get $xl))))
              (local.set $v (v128.load64_zero (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 3)))))
              (local.set $v (v128.load64_lane 1 (i32.add (local.get $pairs) (i32.shl (i32.load8_u offset=3 (local.get $p)) (i32.const 3))) (local.get $v)))
              (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $v) (local.get $xh))))
              (local.set $k (i32.add (local.get $k) (i32.const 8)))
              (br_if $k8 (i32.lt_u (local.get $k) (local.get $kb))))
            ;; the block's absmax, per row (block index = row·blocks + k/64 - 1)
            (local.set $p (i32.add (local.get $sc) (i32.shl (i32.sub (i32.shr_u (local.get $k) (i32.const 6)) (i32.const 1)) (i32.const 2))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $c0) (v128.load32_splat (i32.add (local.get $p) (i32.shl (i32.mul (select (i32.const 0) (i32.sub (local.get $rows) (i32.const 1)) (i32.lt_u (i32.const 0) (local.get $rows))) (local.get $blocks)) (i32.const 2)))))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $c1) (v128.load32_splat (i32.add (local.get $p) (i32.shl (i32.mul (select (i32.const 1) (i32.sub (local.get $rows) (i32.const 1)) (i32.lt_u (i32.const 1) (local.get $rows))) (local.get $blocks)) (i32.const 2)))))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $c2) (v128.load32_splat (i32.add (local.get $p) (i32.shl (i32.mul (select (i32.const 2) (i32.sub (local.get $rows) (i32.const 1)) (i32.lt_u (i32.const 2) (local.get $rows))) (local.get $blocks)) (i32.const 2)))))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $c3) (v128.load32_splat (i32.add (local.get $p) (i32.shl (i32.mul (select (i32.const 3) (i32.sub (local.get $rows) (i32.const 1)) (i32.lt_u (i32.const 3) (local.get $rows))) (local.get $blocks)) (i32.const 2)))))))
            (br $block)))
        (local.set $i (i32.const 0))
        (block $store_done
          (loop $store
            (br_if $store_done (i32.ge_u (local.get $i) (local.get $rows)))
            (local.set $v (select (local.get $a0) (select (local.get $a1) (select (local.get $a2) (local.get $a3) (i32.eq (local.get $i) (i32.const 2))) (i32.eq (local.get $i) (i32.const 1))) (i32.eq (local.get $i) (i32.const 0))))
            (f32.store (i32.add (local.get $y) (i32.shl (i32.add (local.get $n) (local.get $i)) (i32.const 2)))
              (f32.add (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
                       (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $store)))
        (local.set $n (i32.add (local.get $n) (i32.const 4)))
        (br $rows4))))


  ;; dst[r, k] = widen(src[r, k]) for r < rows, k < K: bf16 ($f16 = 0) or f16 ($f16 = 1) rows of $rowBytes bytes.
  (func (export "dequant_16") (param $src i32) (param $dst i32) (param $rows i32) (param $K i32) (param $rowBytes i32) (param $f16 i32)
    (local $r i32) (local $k i32) (local $K4 i32) (local $s i32) (local $d i32) (local $h v128)
    (local.set $K4 (i32.and (local.get $K) (i32.const -4)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $s (i32.add (local.get $src) (i32.mul (local.get $r) (local.get $rowBytes))))
        (local.set $d (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $r) (local.get $K)) (i32.const 2))))
        (local.set $k (i32.const 0))
        (block $k4_done
          (loop $k4
            (br_if $k4_done (i32.ge_u (local.get $k) (local.get $K4)))
            (local.set $h (v128.load16x4_u (i32.add (local.get $s) (i32.shl (local.get $k) (i32.const 1)))))
            (v128.store (i32.add (local.get $d) (i32.shl (local.get $k) (i32.const 2)))
              (if (result v128) (local.get $f16) (then (call $f16x4 (local.get $h))) (else (i32x4.shl (local.get $h) (i32.const 16)))))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $k4)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $h (i32x4.splat (i32.load16_u (i32.add (local.get $s) (i32.shl (local.get $k) (i32.const 1))))))
            (f32.store (i32.add (local.get $d) (i32.shl (local.get $k) (i32.const 2)))
              (f32x4.extract_lane 0 (if (result v128) (local.get $f16) (then (call $f16x4 (local.get $h))) (else (i32x4.shl (local.get $h) (i32.const 16))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $tail)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; dst[r, k] = q[r, k]·scales[r] for int8 rows of $rowBytes bytes ($scales points at the first row's scale).
  (func (export "dequant_int8") (param $src i32) (param $scales i32) (param $dst i32) (param $rows i32) (param $K i32) (param $rowBytes i32)
    (local $r i32) (local $k i32) (local $K8 i32) (local $s i32) (local $d i32) (local $q v128) (local $scale v128)
    (local.set $K8 (i32.and (local.get $K) (i32.const -8)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $s (i32.add (local.get $src) (i32.mul (local.get $r) (local.get $rowBytes))))
        (local.set $d (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $r) (local.get $K)) (i32.const 2))))
        (local.set $scale (v128.load32_splat (i32.add (local.get $scales) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $k (i32.const 0))
        (block $k8_done
          (loop $k8
            (br_if $k8_done (i32.ge_u (local.get $k) (local.get $K8)))
            (local.set $q (v128.load8x8_s (i32.add (local.get $s) (local.get $k))))
            (v128.store (i32.add (local.get $d) (i32.shl (local.get $k) (i32.const 2)))
              (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $q))) (local.get $scale)))
            (v128.store offset=16 (i32.add (local.get $d) (i32.shl (local.get $k) (i32.const 2)))
              (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $q))) (local.get $scale)))
            (local.set $k (i32.add (local.get $k) (i32.const 8)))
            (br $k8)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $k) (local.get $K)))
            (f32.store (i32.add (local.get $d) (i32.shl (local.get $k) (i32.const 2)))
              (f32.mul (f32.convert_i32_s (i32.load8_s (i32.add (local.get $s) (local.get $k)))) (f32x4.extract_lane 0 (local.get $scale))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $tail)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; dst[j] = level[code(i)]·absmax[i / 64] for flat elements i = $start + j, j < $count, of an nf4
  ;; weight ($src and $scales point at the weight's first word and first block); $levels: 16 float32.
  (func (export "dequant_nf4") (param $src i32) (param $scales i32) (param $levels i32) (param $dst i32) (param $start i32) (param $count i32)
    (local $i i32) (local $end i32)
    (local.set $i (local.get $start))
    (local.set $end (i32.add (local.get $start) (local.get $count)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (f32.store (i32.add (local.get $dst) (i32.shl (i32.sub (local.get $i) (local.get $start)) (i32.const 2)))
          (f32.mul
            (f32.load (i32.add (local.get $levels) (i32.shl
              (i32.and (i32.shr_u (i32.load (i32.add (local.get $src) (i32.shl (i32.shr_u (local.get $i) (i32.const 3)) (i32.const 2))))
                                  (i32.shl (i32.and (local.get $i) (i32.const 7)) (i32.const 2)))
                       (i32.const 15))
              (i32.const 2))))
            (f32.load (i32.add (local.get $scales) (i32.shl (i32.shr_u (local.get $i) (i32.const 6)) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))
)

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

  ;; One-row products with int8 / nf4 weights (decoding). Both first permute x (shared by all N rows)
  ;; into the order in which the weights come out of their packed words, so that no shuffle is spent
  ;; on putting weights back into element order; each row's sum is then a plain dot product with the
  ;; permuted x. Only the order of the additions differs from x·dequant(W)ᵀ (the tests allow for it).
  ;; f32x4.madd(a, b, c) = a·b + c is not WebAssembly: build-wasm-kernels.mjs writes it as
  ;; f32x4.add(f32x4.mul) (SIMD128) or f32x4.relaxed_madd (the relaxed-SIMD variant).

  ;; xs[16t + 4j + i] = x[16t + 4i + j]·2^-24 for 16t + 16 ≤ K: in each chunk of 16, vector j holds
  ;; the elements whose int8 weights sit in byte j of the words of one 16-byte load. The weights come
  ;; out as q·2^24 (gemv_int8), so each product (q·2^24)·(x·2^-24) is q·x exactly (x·2^-24 rounds only
  ;; where |x| < 2^-102: the product is then off by at most |q|·2^-126, far below the sum's rounding).
  (func $permute_int8 (param $x i32) (param $xs i32) (param $K i32)
    (local $k i32) (local $K16 i32) (local $p i32) (local $q i32) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $scale v128)
    (local.set $scale (v128.const i32x4 0x33800000 0x33800000 0x33800000 0x33800000)) ;; 2^-24
    (local.set $K16 (i32.and (local.get $K) (i32.const -16)))
    (block $done
      (loop $chunk
        (br_if $done (i32.ge_u (local.get $k) (local.get $K16)))
        (local.set $p (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2))))
        (local.set $q (i32.add (local.get $xs) (i32.shl (local.get $k) (i32.const 2))))
        ;; a 4×4 transpose of the chunk's four vectors
        (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (v128.load offset=0 (local.get $p)) (v128.load offset=16 (local.get $p))))
        (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (v128.load offset=0 (local.get $p)) (v128.load offset=16 (local.get $p))))
        (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (v128.load offset=32 (local.get $p)) (v128.load offset=48 (local.get $p))))
        (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (v128.load offset=32 (local.get $p)) (v128.load offset=48 (local.get $p))))
        (v128.store offset=0 (local.get $q) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)) (local.get $scale)))
        (v128.store offset=16 (local.get $q) (f32x4.mul (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)) (local.get $scale)))
        (v128.store offset=32 (local.get $q) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)) (local.get $scale)))
        (v128.store offset=48 (local.get $q) (f32x4.mul (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)) (local.get $scale)))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br $chunk))))

  ;; y[n] = scale[n]·Σ_k q[n, k]·x[k], q int8 rows of $rowBytes bytes; $xs: scratch for K floats.
  ;; Sixteen weights per load: a shift and a mask put byte j of each 32-bit lane in its top byte, which
  ;; converts to q·2^24 with its sign (no shuffles, no sign-extending shifts), and each lane meets its
  ;; x·2^-24 from the permuted copy. The row scale multiplies the row's sum once; the K mod 16 tail
  ;; reads x itself.
  (func (export "gemv_int8") (param $w i32) (param $scales i32) (param $x i32) (param $xs i32) (param $y i32) (param $N i32) (param $K i32) (param $rowBytes i32)
    (local $n i32) (local $k i32) (local $K16 i32) (local $r i32) (local $p i32)
    (local $acc v128) (local $q v128) (local $s f32)
    (local.set $K16 (i32.and (local.get $K) (i32.const -16)))
    (call $permute_int8 (local.get $x) (local.get $xs) (local.get $K))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $r (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $rowBytes))))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $k16_done
          (loop $k16
            (br_if $k16_done (i32.ge_u (local.get $k) (local.get $K16)))
            (local.set $q (v128.load (i32.add (local.get $r) (local.get $k))))
            (local.set $p (i32.add (local.get $xs) (i32.shl (local.get $k) (i32.const 2))))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.madd (f32x4.convert_i32x4_s (v128.and (local.get $q) (v128.const i32x4 0xff000000 0xff000000 0xff000000 0xff000000))) (v128.load offset=48 (local.get $p))
              (f32x4.madd (f32x4.convert_i32x4_s (v128.and (i32x4.shl (local.get $q) (i32.const 8)) (v128.const i32x4 0xff000000 0xff000000 0xff000000 0xff000000))) (v128.load offset=32 (local.get $p))
              (f32x4.madd (f32x4.convert_i32x4_s (v128.and (i32x4.shl (local.get $q) (i32.const 16)) (v128.const i32x4 0xff000000 0xff000000 0xff000000 0xff000000))) (v128.load offset=16 (local.get $p))
                (f32x4.mul (f32x4.convert_i32x4_s (i32x4.shl (local.get $q) (i32.const 24))) (v128.load offset=0 (local.get $p))))))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $k16)))
        (local.set $s (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
                               (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $s (f32.add (local.get $s) (f32.mul (f32.convert_i32_s (i32.load8_s (i32.add (local.get $r) (local.get $k))))
                                                            (f32.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $tail)))
        (f32.store (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2)))
          (f32.mul (local.get $s) (f32.load (i32.add (local.get $scales) (i32.shl (local.get $n) (i32.const 2))))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $row))))

  ;; xs = x with each chunk of 32 split into its even elements, then its odd ones (K % 32 == 0): the
  ;; low nibbles of a 16-byte load are the even elements' codes, the high nibbles the odd ones'.
  (func $permute_nf4 (param $x i32) (param $xs i32) (param $K i32)
    (local $k i32) (local $p i32) (local $q i32)
    (block $done
      (loop $chunk
        (br_if $done (i32.ge_u (local.get $k) (local.get $K)))
        (local.set $p (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2))))
        (local.set $q (i32.add (local.get $xs) (i32.shl (local.get $k) (i32.const 2))))
        (v128.store offset=0 (local.get $q) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (v128.load offset=0 (local.get $p)) (v128.load offset=16 (local.get $p))))
        (v128.store offset=16 (local.get $q) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (v128.load offset=32 (local.get $p)) (v128.load offset=48 (local.get $p))))
        (v128.store offset=32 (local.get $q) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (v128.load offset=64 (local.get $p)) (v128.load offset=80 (local.get $p))))
        (v128.store offset=48 (local.get $q) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (v128.load offset=96 (local.get $p)) (v128.load offset=112 (local.get $p))))
        (v128.store offset=64 (local.get $q) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (v128.load offset=0 (local.get $p)) (v128.load offset=16 (local.get $p))))
        (v128.store offset=80 (local.get $q) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (v128.load offset=32 (local.get $p)) (v128.load offset=48 (local.get $p))))
        (v128.store offset=96 (local.get $q) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (v128.load offset=64 (local.get $p)) (v128.load offset=80 (local.get $p))))
        (v128.store offset=112 (local.get $q) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (v128.load offset=96 (local.get $p)) (v128.load offset=112 (local.get $p))))
        (local.set $k (i32.add (local.get $k) (i32.const 32)))
        (br $chunk))))

  ;; y[n] = Σ_blocks absmax_b·Σ_{k in b} level[code[n, k]]·x[k] for nf4 weights whose K is a multiple
  ;; of 64 (every block inside one row); $xs: scratch for K floats. Per 16-byte load (32 codes), the
  ;; low and the high nibbles are each sixteen codes; each byte of the levels' float32 bits is looked
  ;; up by i8x16.swizzle in a 16-byte plane (the codes are < 16, so the relaxed variant's one-instruction
  ;; swizzle gives the same bytes), and the four planes are interleaved back into floats (unpack-style
  ;; shuffles). The block's absmax multiplies the block's sum once.
  (func (export "gemv_nf4") (param $w i32) (param $scales i32) (param $x i32) (param $xs i32) (param $y i32) (param $N i32) (param $K i32)
    (local $n i32) (local $k i32) (local $kb i32) (local $r i32) (local $p i32) (local $sc i32)
    (local $acc v128) (local $c v128) (local $b v128) (local $codes v128)
    (local $p0 v128) (local $p1 v128) (local $p2 v128) (local $p3 v128)
    (local $lo01 v128) (local $hi01 v128) (local $lo23 v128) (local $hi23 v128)
    (call $permute_nf4 (local.get $x) (local.get $xs) (local.get $K))
    (local.set $sc (local.get $scales))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $r (i32.add (local.get $w) (i32.mul (local.get $n) (i32.shr_u (local.get $K) (i32.const 1)))))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $blocks_done
          (loop $block
            (br_if $blocks_done (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $c (v128.const i32x4 0 0 0 0))
            (local.set $kb (i32.add (local.get $k) (i32.const 64)))
            (loop $k32
              (local.set $b (v128.load (i32.add (local.get $r) (i32.shr_u (local.get $k) (i32.const 1)))))
              (local.set $p (i32.add (local.get $xs) (i32.shl (local.get $k) (i32.const 2))))
              (local.set $codes (v128.and (local.get $b) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
              (local.set $p0 (i8x16.swizzle (v128.const i8x16 0 177 48 160 77 63 113 0 255 227 221 58 184 171 179 0) (local.get $codes)))
              (local.set $p1 (i8x16.swizzle (v128.const i8x16 0 57 107 50 162 53 120 0 250 202 4 3 164 7 19 0) (local.get $codes)))
              (local.set $p2 (i8x16.swizzle (v128.const i8x16 128 50 6 202 145 61 186 0 162 36 124 173 225 16 57 128) (local.get $codes)))
              (local.set $p3 (i8x16.swizzle (v128.const i8x16 191 191 191 190 190 190 189 0 61 62 62 62 62 63 63 63) (local.get $codes)))
              (local.set $lo01 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $p0) (local.get $p1)))
              (local.set $hi01 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $p0) (local.get $p1)))
              (local.set $lo23 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $p2) (local.get $p3)))
              (local.set $hi23 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $p2) (local.get $p3)))
              (local.set $c (f32x4.add (local.get $c)
                (f32x4.madd (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $hi01) (local.get $hi23)) (v128.load offset=48 (local.get $p))
                (f32x4.madd (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $hi01) (local.get $hi23)) (v128.load offset=32 (local.get $p))
                (f32x4.madd (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $lo01) (local.get $lo23)) (v128.load offset=16 (local.get $p))
                  (f32x4.mul (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $lo01) (local.get $lo23)) (v128.load offset=0 (local.get $p))))))))
              (local.set $codes (i8x16.shr_u (local.get $b) (i32.const 4)))
              (local.set $p0 (i8x16.swizzle (v128.const i8x16 0 177 48 160 77 63 113 0 255 227 221 58 184 171 179 0) (local.get $codes)))
              (local.set $p1 (i8x16.swizzle (v128.const i8x16 0 57 107 50 162 53 120 0 250 202 4 3 164 7 19 0) (local.get $codes)))
              (local.set $p2 (i8x16.swizzle (v128.const i8x16 128 50 6 202 145 61 186 0 162 36 124 173 225 16 57 128) (local.get $codes)))
              (local.set $p3 (i8x16.swizzle (v128.const i8x16 191 191 191 190 190 190 189 0 61 62 62 62 62 63 63 63) (local.get $codes)))
              (local.set $lo01 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $p0) (local.get $p1)))
              (local.set $hi01 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $p0) (local.get $p1)))
              (local.set $lo23 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $p2) (local.get $p3)))
              (local.set $hi23 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $p2) (local.get $p3)))
              (local.set $c (f32x4.add (local.get $c)
                (f32x4.madd (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $hi01) (local.get $hi23)) (v128.load offset=112 (local.get $p))
                (f32x4.madd (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $hi01) (local.get $hi23)) (v128.load offset=96 (local.get $p))
                (f32x4.madd (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $lo01) (local.get $lo23)) (v128.load offset=80 (local.get $p))
                  (f32x4.mul (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $lo01) (local.get $lo23)) (v128.load offset=64 (local.get $p))))))))
              (local.set $k (i32.add (local.get $k) (i32.const 32)))
              (br_if $k32 (i32.lt_u (local.get $k) (local.get $kb))))
            (local.set $acc (f32x4.madd (local.get $c) (v128.load32_splat (local.get $sc)) (local.get $acc)))
            (local.set $sc (i32.add (local.get $sc) (i32.const 4)))
            (br $block)))
        (f32.store (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2)))
          (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
                   (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $row))))

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
  ;; Whole blocks in SIMD (the codes interleaved into element order, then looked up as in gemv_nf4),
  ;; the partial blocks at either end one element at a time.
  (func $dequant_nf4_one (param $src i32) (param $scales i32) (param $levels i32) (param $i i32) (result f32)
    (f32.mul
      (f32.load (i32.add (local.get $levels) (i32.shl
        (i32.and (i32.shr_u (i32.load (i32.add (local.get $src) (i32.shl (i32.shr_u (local.get $i) (i32.const 3)) (i32.const 2))))
                            (i32.shl (i32.and (local.get $i) (i32.const 7)) (i32.const 2)))
                 (i32.const 15))
        (i32.const 2))))
      (f32.load (i32.add (local.get $scales) (i32.shl (i32.shr_u (local.get $i) (i32.const 6)) (i32.const 2))))))

  (func (export "dequant_nf4") (param $src i32) (param $scales i32) (param $levels i32) (param $dst i32) (param $start i32) (param $count i32)
    (local $i i32) (local $end i32) (local $d i32) (local $b v128) (local $lo v128) (local $hi v128) (local $scale v128) (local $codes v128)
    (local $p0 v128) (local $p1 v128) (local $p2 v128) (local $p3 v128)
    (local $lo01 v128) (local $hi01 v128) (local $lo23 v128) (local $hi23 v128)
    (local.set $i (local.get $start))
    (local.set $end (i32.add (local.get $start) (local.get $count)))
    ;; up to the first block boundary
    (block $head_done
      (loop $head
        (br_if $head_done (i32.or (i32.ge_u (local.get $i) (local.get $end)) (i32.eqz (i32.and (local.get $i) (i32.const 63)))))
        (f32.store (i32.add (local.get $dst) (i32.shl (i32.sub (local.get $i) (local.get $start)) (i32.const 2)))
          (call $dequant_nf4_one (local.get $src) (local.get $scales) (local.get $levels) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $head)))
    ;; whole blocks, 32 elements (16 bytes) per step
    (block $blocks_done
      (loop $chunk
        (br_if $blocks_done (i32.gt_u (i32.add (local.get $i) (i32.const 32)) (local.get $end)))
        (local.set $scale (v128.load32_splat (i32.add (local.get $scales) (i32.shl (i32.shr_u (local.get $i) (i32.const 6)) (i32.const 2)))))
        (local.set $b (v128.load (i32.add (local.get $src) (i32.shr_u (local.get $i) (i32.const 1)))))
        (local.set $lo (v128.and (local.get $b) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
        (local.set $hi (i8x16.shr_u (local.get $b) (i32.const 4)))
        (local.set $d (i32.add (local.get $dst) (i32.shl (i32.sub (local.get $i) (local.get $start)) (i32.const 2))))
          (local.set $codes (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $lo) (local.get $hi)))
          (local.set $p0 (i8x16.swizzle (v128.const i8x16 0 177 48 160 77 63 113 0 255 227 221 58 184 171 179 0) (local.get $codes)))
          (local.set $p1 (i8x16.swizzle (v128.const i8x16 0 57 107 50 162 53 120 0 250 202 4 3 164 7 19 0) (local.get $codes)))
          (local.set $p2 (i8x16.swizzle (v128.const i8x16 128 50 6 202 145 61 186 0 162 36 124 173 225 16 57 128) (local.get $codes)))
          (local.set $p3 (i8x16.swizzle (v128.const i8x16 191 191 191 190 190 190 189 0 61 62 62 62 62 63 63 63) (local.get $codes)))
          (local.set $lo01 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $p0) (local.get $p1)))
          (local.set $hi01 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $p0) (local.get $p1)))
          (local.set $lo23 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $p2) (local.get $p3)))
          (local.set $hi23 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $p2) (local.get $p3)))
          (v128.store offset=0 (local.get $d) (f32x4.mul (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $lo01) (local.get $lo23)) (local.get $scale)))
          (v128.store offset=16 (local.get $d) (f32x4.mul (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $lo01) (local.get $lo23)) (local.get $scale)))
          (v128.store offset=32 (local.get $d) (f32x4.mul (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $hi01) (local.get $hi23)) (local.get $scale)))
          (v128.store offset=48 (local.get $d) (f32x4.mul (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $hi01) (local.get $hi23)) (local.get $scale)))
          (local.set $codes (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $lo) (local.get $hi)))
          (local.set $p0 (i8x16.swizzle (v128.const i8x16 0 177 48 160 77 63 113 0 255 227 221 58 184 171 179 0) (local.get $codes)))
          (local.set $p1 (i8x16.swizzle (v128.const i8x16 0 57 107 50 162 53 120 0 250 202 4 3 164 7 19 0) (local.get $codes)))
          (local.set $p2 (i8x16.swizzle (v128.const i8x16 128 50 6 202 145 61 186 0 162 36 124 173 225 16 57 128) (local.get $codes)))
          (local.set $p3 (i8x16.swizzle (v128.const i8x16 191 191 191 190 190 190 189 0 61 62 62 62 62 63 63 63) (local.get $codes)))
          (local.set $lo01 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $p0) (local.get $p1)))
          (local.set $hi01 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $p0) (local.get $p1)))
          (local.set $lo23 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $p2) (local.get $p3)))
          (local.set $hi23 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $p2) (local.get $p3)))
          (v128.store offset=64 (local.get $d) (f32x4.mul (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $lo01) (local.get $lo23)) (local.get $scale)))
          (v128.store offset=80 (local.get $d) (f32x4.mul (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $lo01) (local.get $lo23)) (local.get $scale)))
          (v128.store offset=96 (local.get $d) (f32x4.mul (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $hi01) (local.get $hi23)) (local.get $scale)))
          (v128.store offset=112 (local.get $d) (f32x4.mul (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $hi01) (local.get $hi23)) (local.get $scale)))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $chunk)))
    ;; the rest
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (local.get $end)))
        (f32.store (i32.add (local.get $dst) (i32.shl (i32.sub (local.get $i) (local.get $start)) (i32.const 2)))
          (call $dequant_nf4_one (local.get $src) (local.get $scales) (local.get $levels) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))
)

;; Attacks the output cap: a valid allow verdict padded with JSON whitespace to 4,097 bytes, one over
;; output_bytes_max, which would parse as allow if the cap were not checked before reading. A claim id
;; starting with "b" gets the same answer padded to exactly 4,096 bytes, which is within the cap.
(module
  (memory (export "memory") 2)
  (data (i32.const 20000) "{\"verdict\":\"allow\",\"reason\":\"padded\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  ;; the byte after "claim_id":" in the input (the case letter), or 0
  (data (i32.const 256) "\"claim_id\":\"")
  (func $case (param $p i32) (param $l i32) (result i32)
    (local $i i32) (local $j i32)
    (block $no
      (loop $outer
        (br_if $no (i32.gt_u (i32.add (local.get $i) (i32.const 13)) (local.get $l)))
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $inner
            (if (i32.ge_u (local.get $j) (i32.const 12))
              (then (return (i32.load8_u (i32.add (i32.add (local.get $p) (local.get $i)) (i32.const 12))))))
            (br_if $mismatch (i32.ne (i32.load8_u (i32.add (i32.add (local.get $p) (local.get $i)) (local.get $j)))
                                     (i32.load8_u (i32.add (i32.const 256) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    i32.const 0)
  (func $out (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))
  (func (export "hongbao_claim") (param $p i32) (param $l i32) (result i64)
    (memory.fill (i32.const 20037) (i32.const 32) (i32.const 5000))
    (if (result i64) (i32.eq (call $case (local.get $p) (local.get $l)) (i32.const 98))
      (then (call $out (i32.const 20000) (i32.const 4096)))
      (else (call $out (i32.const 20000) (i32.const 4097))))))

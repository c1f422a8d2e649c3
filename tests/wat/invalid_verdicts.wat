;; Attacks output parsing: answers that are valid bytes, some valid JSON, but not a valid answer, picked by the
;; claim id's first letter (table below). Each must be a bad-output failure, never read as allow; "t" is an
;; explicit error (rule-error), "u" and "v" sit exactly on the reason and note limits and are valid denies.
(module
  (memory (export "memory") 2)
  ;; a) an unknown verdict
  (data (i32.const 1024) "{\"verdict\":\"approve\",\"reason\":\"ok\"}")
  ;; b) a reason outside a-z 0-9 _ - .
  (data (i32.const 1088) "{\"verdict\":\"allow\",\"reason\":\"Not Valid!\"}")
  ;; c) no reason
  (data (i32.const 1152) "{\"verdict\":\"allow\"}")
  ;; d) an empty reason
  (data (i32.const 1200) "{\"verdict\":\"allow\",\"reason\":\"\"}")
  ;; e) a 65-byte reason
  (data (i32.const 1248) "{\"verdict\":\"allow\",\"reason\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}")
  ;; f) an unknown field
  (data (i32.const 1360) "{\"verdict\":\"allow\",\"reason\":\"ok\",\"extra\":1}")
  ;; g) trailing bytes
  (data (i32.const 1424) "{\"verdict\":\"allow\",\"reason\":\"ok\"}xyz")
  ;; h) a bare JSON string
  (data (i32.const 1488) "\"allow\"")
  ;; i) an upper-case verdict
  (data (i32.const 1520) "{\"verdict\":\"ALLOW\",\"reason\":\"ok\"}")
  ;; j) a 257-byte note
  (data (i32.const 1584) "{\"verdict\":\"allow\",\"reason\":\"ok\",\"note\":\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\"}")
  ;; k) truncated JSON
  (data (i32.const 1904) "{\"verdict\":\"allow\",\"reason\":\"ok\"")
  ;; l) invalid UTF-8
  (data (i32.const 1952) "{\"verdict\":\"allow\",\"reason\":\"o\ffk\"}")
  ;; m) a decision and an error at once
  (data (i32.const 2016) "{\"verdict\":\"allow\",\"reason\":\"ok\",\"error\":\"nope\"}")
  ;; n) a duplicated verdict key
  (data (i32.const 2080) "{\"verdict\":\"deny\",\"reason\":\"dup\",\"verdict\":\"allow\"}")
  ;; o) a null verdict
  (data (i32.const 2160) "{\"verdict\":null,\"reason\":\"ok\"}")
  ;; p) zero bytes
  (data (i32.const 2208) "")
  ;; q) a note that is not a string
  (data (i32.const 2224) "{\"verdict\":\"allow\",\"reason\":\"ok\",\"note\":7}")
  ;; r) a trailing NUL byte
  (data (i32.const 2288) "{\"verdict\":\"allow\",\"reason\":\"ok\"}\00")
  ;; s) JSON null
  (data (i32.const 2352) "null")
  ;; t) an error with an empty message (a rule-error, not an answer)
  (data (i32.const 2384) "{\"error\":\"\"}")
  ;; u) a 64-byte reason (valid: deny)
  (data (i32.const 2416) "{\"verdict\":\"deny\",\"reason\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}")
  ;; v) a 256-byte note (valid: deny)
  (data (i32.const 2528) "{\"verdict\":\"deny\",\"reason\":\"note256\",\"note\":\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\"}")
  ;; any other letter: a valid deny
  (data (i32.const 2848) "{\"verdict\":\"deny\",\"reason\":\"valid_control\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 16384)
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
    (local $c i32)
    (local.set $c (call $case (local.get $p) (local.get $l)))
    (if (i32.eq (local.get $c) (i32.const 97)) (then (return (call $out (i32.const 1024) (i32.const 35)))))
    (if (i32.eq (local.get $c) (i32.const 98)) (then (return (call $out (i32.const 1088) (i32.const 41)))))
    (if (i32.eq (local.get $c) (i32.const 99)) (then (return (call $out (i32.const 1152) (i32.const 19)))))
    (if (i32.eq (local.get $c) (i32.const 100)) (then (return (call $out (i32.const 1200) (i32.const 31)))))
    (if (i32.eq (local.get $c) (i32.const 101)) (then (return (call $out (i32.const 1248) (i32.const 96)))))
    (if (i32.eq (local.get $c) (i32.const 102)) (then (return (call $out (i32.const 1360) (i32.const 43)))))
    (if (i32.eq (local.get $c) (i32.const 103)) (then (return (call $out (i32.const 1424) (i32.const 36)))))
    (if (i32.eq (local.get $c) (i32.const 104)) (then (return (call $out (i32.const 1488) (i32.const 7)))))
    (if (i32.eq (local.get $c) (i32.const 105)) (then (return (call $out (i32.const 1520) (i32.const 33)))))
    (if (i32.eq (local.get $c) (i32.const 106)) (then (return (call $out (i32.const 1584) (i32.const 300)))))
    (if (i32.eq (local.get $c) (i32.const 107)) (then (return (call $out (i32.const 1904) (i32.const 32)))))
    (if (i32.eq (local.get $c) (i32.const 108)) (then (return (call $out (i32.const 1952) (i32.const 34)))))
    (if (i32.eq (local.get $c) (i32.const 109)) (then (return (call $out (i32.const 2016) (i32.const 48)))))
    (if (i32.eq (local.get $c) (i32.const 110)) (then (return (call $out (i32.const 2080) (i32.const 51)))))
    (if (i32.eq (local.get $c) (i32.const 111)) (then (return (call $out (i32.const 2160) (i32.const 30)))))
    (if (i32.eq (local.get $c) (i32.const 112)) (then (return (call $out (i32.const 2208) (i32.const 0)))))
    (if (i32.eq (local.get $c) (i32.const 113)) (then (return (call $out (i32.const 2224) (i32.const 42)))))
    (if (i32.eq (local.get $c) (i32.const 114)) (then (return (call $out (i32.const 2288) (i32.const 34)))))
    (if (i32.eq (local.get $c) (i32.const 115)) (then (return (call $out (i32.const 2352) (i32.const 4)))))
    (if (i32.eq (local.get $c) (i32.const 116)) (then (return (call $out (i32.const 2384) (i32.const 12)))))
    (if (i32.eq (local.get $c) (i32.const 117)) (then (return (call $out (i32.const 2416) (i32.const 94)))))
    (if (i32.eq (local.get $c) (i32.const 118)) (then (return (call $out (i32.const 2528) (i32.const 303)))))
    (call $out (i32.const 2848) (i32.const 43))))

;; Attacks the log import's argument checks and per-call limits, picked by the claim id's first letter:
;; a) level 7, b) level -1, c) a 1,025-byte line, d) a length of 0x80000000, e) a range wrapping past 4 GiB
;; (ptr 0xFFFFFFF0, len 32), f) a line straddling the end of memory, g) 65 valid calls (host_calls_max is 64),
;; h) 17 lines of 1,024 bytes (host_call_bytes_max is 16 KiB). Each must be a host-error. i) exactly 64 lines
;; of 256 bytes, at both limits, and any other letter (one valid line) allow with reason logged.
(module
  (import "hongbao" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"logged\"}")
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
  (func $logs (param $n i32) (param $len i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (call $log (i32.const 1) (i32.const 2048) (local.get $len))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again))))
  (func (export "hongbao_claim") (param $p i32) (param $l i32) (result i64)
    (local $c i32) (local $end i32)
    (memory.fill (i32.const 2048) (i32.const 120) (i32.const 1025))
    (local.set $c (call $case (local.get $p) (local.get $l)))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (block $chosen
      (if (i32.eq (local.get $c) (i32.const 97))
        (then (call $log (i32.const 7) (i32.const 2048) (i32.const 4)) (br $chosen)))
      (if (i32.eq (local.get $c) (i32.const 98))
        (then (call $log (i32.const -1) (i32.const 2048) (i32.const 4)) (br $chosen)))
      (if (i32.eq (local.get $c) (i32.const 99))
        (then (call $log (i32.const 1) (i32.const 2048) (i32.const 1025)) (br $chosen)))
      (if (i32.eq (local.get $c) (i32.const 100))
        (then (call $log (i32.const 1) (i32.const 2048) (i32.const 0x80000000)) (br $chosen)))
      (if (i32.eq (local.get $c) (i32.const 101))
        (then (call $log (i32.const 1) (i32.const 0xFFFFFFF0) (i32.const 32)) (br $chosen)))
      (if (i32.eq (local.get $c) (i32.const 102))
        (then (call $log (i32.const 1) (i32.sub (local.get $end) (i32.const 3)) (i32.const 4)) (br $chosen)))
      (if (i32.eq (local.get $c) (i32.const 103))
        (then (call $logs (i32.const 65) (i32.const 8)) (br $chosen)))
      (if (i32.eq (local.get $c) (i32.const 104))
        (then (call $logs (i32.const 17) (i32.const 1024)) (br $chosen)))
      (if (i32.eq (local.get $c) (i32.const 105))
        (then (call $logs (i32.const 64) (i32.const 256)) (br $chosen)))
      (call $log (i32.const 2) (i32.const 2048) (i32.const 5)))
    (call $out (i32.const 16) (i32.const 37))))

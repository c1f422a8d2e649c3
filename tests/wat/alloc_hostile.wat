;; Attacks the input handover through hongbao_alloc, picked by the input length mod 8: 0) returns 0xFFFFFFF0,
;; 1) a range one byte short of the end of memory, 2) a null pointer, 3) traps, 4) loops forever, 7) asks
;; for 100,000 more pages. 5) grows memory by a page and returns it, 6) returns a range ending exactly at the
;; end of memory: those two are valid and allow.
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param $len i32) (result i32)
    (local $end i32) (local $case i32)
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (local.set $case (i32.and (local.get $len) (i32.const 7)))
    (if (i32.eq (local.get $case) (i32.const 0)) (then (return (i32.const 0xFFFFFFF0))))
    (if (i32.eq (local.get $case) (i32.const 1))
      (then (return (i32.add (i32.sub (local.get $end) (local.get $len)) (i32.const 1)))))
    (if (i32.eq (local.get $case) (i32.const 2)) (then (return (i32.const 0))))
    (if (i32.eq (local.get $case) (i32.const 3)) (then unreachable))
    (if (i32.eq (local.get $case) (i32.const 4)) (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $case) (i32.const 5))
      (then (return (i32.mul (memory.grow (i32.const 1)) (i32.const 65536)))))
    (if (i32.eq (local.get $case) (i32.const 6)) (then (return (i32.sub (local.get $end) (local.get $len)))))
    (drop (memory.grow (i32.const 100000)))
    (i32.const 8192))
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 33))))

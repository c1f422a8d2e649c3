;; Attacks host memory: grows linear memory one page at a time until growth fails, then writes to its last page.
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (block $done
      (loop $grow
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $grow)))
    ;; write to the last byte of the last page
    (i32.store8 (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1)) (i32.const 7))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 33))))

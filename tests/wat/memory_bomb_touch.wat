;; Attacks host memory for real: grows linear memory one page at a time and writes to every new page, so
;; each page is resident, until growth fails at the memory limit; the host must stop it with memory-limit
;; and give the pages back after the call.
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (local $page i32)
    (block $done
      (loop $grow
        (local.set $page (memory.grow (i32.const 1)))
        (br_if $done (i32.eq (local.get $page) (i32.const -1)))
        (i64.store (i32.mul (local.get $page) (i32.const 65536)) (i64.const -1))
        (i64.store (i32.add (i32.mul (local.get $page) (i32.const 65536)) (i32.const 32768)) (i64.const -1))
        (br $grow)))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 33))))

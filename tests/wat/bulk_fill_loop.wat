;; Attacks the fuel meter: loops forever over memory.fill of 1 MiB; were a bulk operation charged as one
;; instruction whatever its length, fuel would let it write gigabytes. It must be charged by size, and end on fuel.
(module
  (memory (export "memory") 17)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (loop $forever
      (memory.fill (i32.const 65536) (i32.const 7) (i32.const 1048576))
      (br $forever))
    i64.const 0))

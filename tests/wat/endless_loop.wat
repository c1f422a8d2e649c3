;; Attacks liveness: the claim hook loops forever and must be stopped by fuel or the deadline.
(module
  (memory (export "memory") 2)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (loop $forever (br $forever))
    i64.const 0))

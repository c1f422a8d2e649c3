;; Attacks loading: the start function hits `unreachable`, so no instance can ever be made; refused at load.
(module
  (memory (export "memory") 2)
  (func $start unreachable)
  (start $start)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64) i64.const 0))

;; Attacks instantiation: an active data segment that runs 4 bytes past the end of its one-page memory, so
;; no instance can ever be made; refused at load, not left to trap on every claim.
(module
  (memory (export "memory") 1)
  (data (i32.const 65530) "0123456789")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64) i64.const 0))

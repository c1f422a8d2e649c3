;; Attacks ambient authority: imports WASI's fd_write, which the host must refuse at load.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "hongbao_claim") (param i32 i32) (result i64) i64.const 0))

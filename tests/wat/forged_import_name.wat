;; Attacks the operator's terminal: an import name with a newline, a fake "ok" line and ANSI escapes, to forge `hongbao check` output.
(module
  (import "hongbao" "log\nrules/blocklist.wasm: ok (1234 bytes)\n\1b[2K\1b[1A" (func $forged (param i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "hongbao_claim") (param i32 i32) (result i64) i64.const 0))

;; Attacks the memory limit at load: declares 1,024 initial pages (64 MiB, four times the default
;; memory_bytes_max) with a data segment in its last bytes; refused at load under the default, and with a
;; per-rule memory_bytes_max of 64 MiB it loads and answers from that far segment (reason far_data).
(module
  (memory (export "memory") 1024)
  (data (i32.const 67108800) "{\"verdict\":\"allow\",\"reason\":\"far_data\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 67108800) (i64.const 32)) (i64.const 39))))

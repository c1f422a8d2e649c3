//! Load-time bounds on what compilation costs: the number of functions, the
//! locals and body size of each, and the bytes of data segments. Checked on
//! the raw binary before it is handed to the compiler, so a compile-time bomb
//! (a huge function with thousands of live locals, hundreds of thousands of
//! functions) is refused in microseconds instead of compiling for minutes.

use wasmparser::{Parser, Payload};

/// The most functions (defined, not imported) a module may have.
pub const FUNCTIONS_MAX: u32 = 10_000;
/// The most locals (parameters excluded) one function may declare.
pub const LOCALS_PER_FUNCTION_MAX: u64 = 2_000;
/// The largest function body, in bytes.
pub const FUNCTION_BODY_BYTES_MAX: usize = 128 * 1024;
/// The most bytes all data segments together may hold.
pub const DATA_SEGMENT_BYTES_MAX: u64 = 4 * 1024 * 1024;
/// The deepest nesting of blocks, loops and ifs in one function. The
/// compiler's work grows faster than linearly with nesting (43,000 nested
/// loops in a 128 KiB body took 10 s and 0.9 GB to compile), while real
/// compiled code nests a few dozen deep.
pub const NESTING_DEPTH_MAX: u32 = 256;
/// The most total nesting work in a module: the sum, over all its blocks,
/// of the depth each opens at.
pub const NESTING_WORK_MAX: u64 = 1_000_000;
/// The most memory accesses (loads and stores) in one function. Cranelift's
/// work grows with the square of a function's accesses at distinct offsets
/// (4,000 took 0.35 s, 8,000 1.5 s, 11,000 2.7 s; seven functions of
/// 17,000, a 909 KB module, 22 s), while compiled Rust rules have a few
/// hundred per function.
pub const MEMORY_ACCESSES_PER_FUNCTION_MAX: u64 = 4_000;
/// The most memory-access work in a module: the sum, over its functions,
/// of the square of each one's accesses (the bound above for one function
/// is 16,000,000; this allows a few such, or many ordinary ones).
pub const MEMORY_ACCESS_WORK_MAX: u64 = 40_000_000;

/// What the shape check measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Defined functions.
    pub functions: u32,
    /// Most locals in one function.
    pub locals_max: u64,
    /// Largest function body, in bytes.
    pub body_bytes_max: usize,
    /// Bytes in all data segments.
    pub data_bytes: u64,
    /// Deepest block nesting in one function.
    pub nesting_max: u32,
    /// Sum, over every block of every function, of the depth it opens at.
    pub nesting_work: u64,
    /// Most memory accesses (loads and stores) in one function.
    pub memory_accesses_max: u64,
    /// Sum, over the functions, of the square of each one's memory accesses.
    pub memory_access_work: u64,
}

/// True for an operator that loads from or stores to linear memory.
fn is_memory_access(op: &wasmparser::Operator<'_>) -> bool {
    use wasmparser::Operator as O;
    matches!(
        op,
        O::I32Load { .. }
            | O::I64Load { .. }
            | O::F32Load { .. }
            | O::F64Load { .. }
            | O::I32Load8S { .. }
            | O::I32Load8U { .. }
            | O::I32Load16S { .. }
            | O::I32Load16U { .. }
            | O::I64Load8S { .. }
            | O::I64Load8U { .. }
            | O::I64Load16S { .. }
            | O::I64Load16U { .. }
            | O::I64Load32S { .. }
            | O::I64Load32U { .. }
            | O::I32Store { .. }
            | O::I64Store { .. }
            | O::F32Store { .. }
            | O::F64Store { .. }
            | O::I32Store8 { .. }
            | O::I32Store16 { .. }
            | O::I64Store8 { .. }
            | O::I64Store16 { .. }
            | O::I64Store32 { .. }
            | O::V128Load { .. }
            | O::V128Load8x8S { .. }
            | O::V128Load8x8U { .. }
            | O::V128Load16x4S { .. }
            | O::V128Load16x4U { .. }
            | O::V128Load32x2S { .. }
            | O::V128Load32x2U { .. }
            | O::V128Load8Splat { .. }
            | O::V128Load16Splat { .. }
            | O::V128Load32Splat { .. }
            | O::V128Load64Splat { .. }
            | O::V128Load32Zero { .. }
            | O::V128Load64Zero { .. }
            | O::V128Store { .. }
            | O::V128Load8Lane { .. }
            | O::V128Load16Lane { .. }
            | O::V128Load32Lane { .. }
            | O::V128Load64Lane { .. }
            | O::V128Store8Lane { .. }
            | O::V128Store16Lane { .. }
            | O::V128Store32Lane { .. }
            | O::V128Store64Lane { .. }
    )
}

/// What one function body costs the compiler, as far as these bounds see.
struct BodyCost {
    /// The deepest nesting of structured control.
    nesting_max: u32,
    /// The sum of the depths at which its blocks open (what the compiler's
    /// loop and dominator analyses pay for).
    nesting_work: u64,
    /// Loads and stores.
    memory_accesses: u64,
}

/// Measures one function body. A body that cannot be read counts as far as
/// it was read (the validator refuses it).
fn body_cost(body: &wasmparser::FunctionBody<'_>) -> BodyCost {
    let mut cost = BodyCost {
        nesting_max: 0,
        nesting_work: 0,
        memory_accesses: 0,
    };
    let Ok(mut ops) = body.get_operators_reader() else {
        return cost;
    };
    let mut depth = 0u32;
    while !ops.eof() {
        match ops.read() {
            Ok(
                wasmparser::Operator::Block { .. }
                | wasmparser::Operator::Loop { .. }
                | wasmparser::Operator::If { .. }
                | wasmparser::Operator::TryTable { .. },
            ) => {
                depth += 1;
                cost.nesting_max = cost.nesting_max.max(depth);
                cost.nesting_work += u64::from(depth);
            }
            Ok(wasmparser::Operator::End) => depth = depth.saturating_sub(1),
            Ok(op) if is_memory_access(&op) => cost.memory_accesses += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    cost
}

/// Measures `wasm` and lists every bound it breaks (empty when none).
/// Malformed binaries are left to the compiler, which names the fault.
pub fn check(wasm: &[u8]) -> (Shape, Vec<String>) {
    let mut shape = Shape::default();
    let mut problems = Vec::new();
    let mut worst_locals_fn = 0;
    let mut worst_body_fn = 0;
    let mut worst_nesting_fn = 0;
    let mut worst_memory_fn = 0;
    let mut body_index: u32 = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else { break };
        match payload {
            Payload::FunctionSection(reader) => shape.functions = reader.count(),
            Payload::CodeSectionEntry(body) => {
                let index = body_index;
                body_index += 1;
                let size = body.range().len();
                if size > shape.body_bytes_max {
                    shape.body_bytes_max = size;
                    worst_body_fn = index;
                }
                let mut locals: u64 = 0;
                if let Ok(reader) = body.get_locals_reader() {
                    for entry in reader.into_iter().flatten() {
                        locals = locals.saturating_add(u64::from(entry.0));
                    }
                }
                if locals > shape.locals_max {
                    shape.locals_max = locals;
                    worst_locals_fn = index;
                }
                let cost = body_cost(&body);
                shape.nesting_work = shape.nesting_work.saturating_add(cost.nesting_work);
                if cost.nesting_max > shape.nesting_max {
                    shape.nesting_max = cost.nesting_max;
                    worst_nesting_fn = index;
                }
                let accesses = cost.memory_accesses;
                shape.memory_access_work = shape
                    .memory_access_work
                    .saturating_add(accesses.saturating_mul(accesses));
                if accesses > shape.memory_accesses_max {
                    shape.memory_accesses_max = accesses;
                    worst_memory_fn = index;
                }
            }
            Payload::DataSection(reader) => {
                for data in reader.into_iter().flatten() {
                    shape.data_bytes = shape.data_bytes.saturating_add(data.data.len() as u64);
                }
            }
            _ => {}
        }
    }
    if shape.functions > FUNCTIONS_MAX {
        problems.push(format!(
            "defines {} functions; at most {FUNCTIONS_MAX}",
            shape.functions
        ));
    }
    if shape.locals_max > LOCALS_PER_FUNCTION_MAX {
        problems.push(format!(
            "defined function #{worst_locals_fn} declares {} locals; at most {LOCALS_PER_FUNCTION_MAX} per function",
            shape.locals_max
        ));
    }
    if shape.body_bytes_max > FUNCTION_BODY_BYTES_MAX {
        problems.push(format!(
            "defined function #{worst_body_fn} has a body of {} bytes; at most {FUNCTION_BODY_BYTES_MAX}",
            shape.body_bytes_max
        ));
    }
    if shape.nesting_max > NESTING_DEPTH_MAX {
        problems.push(format!(
            "defined function #{worst_nesting_fn} nests blocks {} deep; at most {NESTING_DEPTH_MAX}",
            shape.nesting_max
        ));
    }
    if shape.nesting_work > NESTING_WORK_MAX {
        problems.push(format!(
            "its blocks open at a total depth of {}; at most {NESTING_WORK_MAX} (deeply nested code is costly to compile)",
            shape.nesting_work
        ));
    }
    if shape.memory_accesses_max > MEMORY_ACCESSES_PER_FUNCTION_MAX {
        problems.push(format!(
            "defined function #{worst_memory_fn} has {} memory loads and stores; at most {MEMORY_ACCESSES_PER_FUNCTION_MAX} per function",
            shape.memory_accesses_max
        ));
    }
    if shape.memory_access_work > MEMORY_ACCESS_WORK_MAX {
        problems.push(format!(
            "its functions' memory accesses, squared and summed, come to {}; at most {MEMORY_ACCESS_WORK_MAX} (a function with many loads and stores is costly to compile)",
            shape.memory_access_work
        ));
    }
    if shape.data_bytes > DATA_SEGMENT_BYTES_MAX {
        problems.push(format!(
            "data segments hold {} bytes; at most {DATA_SEGMENT_BYTES_MAX}",
            shape.data_bytes
        ));
    }
    (shape, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wat(text: &str) -> Vec<u8> {
        wat::parse_str(text).expect("valid WAT")
    }

    #[test]
    fn a_small_module_passes() {
        let (shape, problems) = check(&wat(
            r#"(module (memory 1) (data (i32.const 0) "abc") (func (local i32 i64)))"#,
        ));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(shape.functions, 1);
        assert_eq!(shape.locals_max, 2);
        assert_eq!(shape.data_bytes, 3);
    }

    #[test]
    fn too_many_locals_are_named() {
        let text = format!(
            "(module (func) (func (local {})))",
            "i64 ".repeat(LOCALS_PER_FUNCTION_MAX as usize + 1)
        );
        let (_, problems) = check(&wat(&text));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("defined function #1 declares 2001 locals"),
            "{problems:?}"
        );
    }

    /// A function of `n` loads at distinct offsets.
    fn loads(n: usize) -> String {
        let body: String = (0..n)
            .map(|i| format!("(drop (i32.load offset={} (i32.const 0)))", i * 4))
            .collect();
        format!("(func {body})")
    }

    #[test]
    fn memory_accesses_are_bounded_per_function_and_in_all() {
        let max = MEMORY_ACCESSES_PER_FUNCTION_MAX as usize;
        let one = |funcs: &[usize]| {
            let f: String = funcs.iter().map(|&n| loads(n)).collect();
            check(&wat(&format!("(module (memory 1) {f})")))
        };
        let (shape, problems) = one(&[max]);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(shape.memory_accesses_max, max as u64);
        let (_, problems) = one(&[1, max + 1]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("defined function #1 has 4001 memory loads and stores"),
            "{problems:?}"
        );
        // Three functions at the per-function bound: 48,000,000 in all.
        let (shape, problems) = one(&[max, max, max]);
        assert_eq!(shape.memory_access_work, 3 * (max * max) as u64);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("squared and summed, come to 48000000"),
            "{problems:?}"
        );
    }

    #[test]
    fn deep_nesting_is_named() {
        let deep = |n: usize| {
            format!(
                "(module (func (param i32) {} {}))",
                "(block".repeat(n),
                ")".repeat(n)
            )
        };
        let (shape, problems) = check(&wat(&deep(NESTING_DEPTH_MAX as usize)));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(shape.nesting_max, NESTING_DEPTH_MAX);
        let (_, problems) = check(&wat(&deep(NESTING_DEPTH_MAX as usize + 1)));
        assert_eq!(
            problems,
            [format!(
                "defined function #0 nests blocks {} deep; at most {NESTING_DEPTH_MAX}",
                NESTING_DEPTH_MAX + 1
            )]
        );
    }

    /// Many functions each just inside the depth bound: refused by the total
    /// nesting work (30 of them, at the bound, compile in 0.3 s in release;
    /// 900 took 10 s before this bound).
    #[test]
    fn total_nesting_work_is_bounded() {
        let nested = format!(
            "(func (param i32) (local i32) {} local.get 0 br_if 0 {})",
            "loop ".repeat(NESTING_DEPTH_MAX as usize),
            "end ".repeat(NESTING_DEPTH_MAX as usize)
        );
        let per_function = u64::from(NESTING_DEPTH_MAX) * u64::from(NESTING_DEPTH_MAX + 1) / 2;
        let fits = (NESTING_WORK_MAX / per_function) as usize;
        let (shape, problems) = check(&wat(&format!("(module {})", nested.repeat(fits))));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(shape.nesting_work, per_function * fits as u64);
        let (_, problems) = check(&wat(&format!("(module {})", nested.repeat(fits + 1))));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with(&format!(
                "its blocks open at a total depth of {}",
                per_function * (fits as u64 + 1)
            )),
            "{problems:?}"
        );
    }

    #[test]
    fn too_many_functions_and_data_are_named() {
        let funcs = "(func)".repeat(FUNCTIONS_MAX as usize + 1);
        let (_, problems) = check(&wat(&format!("(module {funcs})")));
        assert!(problems[0].contains("functions; at most"), "{problems:?}");
        let data = format!(
            r#"(module (memory 80) (data (i32.const 0) "{}"))"#,
            "a".repeat(DATA_SEGMENT_BYTES_MAX as usize + 1)
        );
        let (_, problems) = check(&wat(&data));
        assert!(problems[0].contains("data segments hold"), "{problems:?}");
    }
}

#[cfg(test)]
mod sample_rules {
    use super::*;

    /// The bounds leave the real rules, built with serde_json, at least half
    /// their room on every axis.
    #[test]
    fn bundled_sample_rules_fit_with_room() {
        for (name, bytes) in crate::bundled::MODULES {
            let (shape, problems) = check(bytes);
            assert!(problems.is_empty(), "{name}: {problems:?}");
            assert!(shape.functions <= FUNCTIONS_MAX / 2, "{name}: {shape:?}");
            assert!(
                shape.locals_max <= LOCALS_PER_FUNCTION_MAX / 2,
                "{name}: {shape:?}"
            );
            assert!(
                shape.body_bytes_max <= FUNCTION_BODY_BYTES_MAX / 2,
                "{name}: {shape:?}"
            );
            assert!(
                shape.data_bytes <= DATA_SEGMENT_BYTES_MAX / 2,
                "{name}: {shape:?}"
            );
            assert!(
                shape.nesting_max <= NESTING_DEPTH_MAX / 2,
                "{name}: {shape:?}"
            );
            assert!(
                shape.nesting_work <= NESTING_WORK_MAX / 2,
                "{name}: {shape:?}"
            );
            assert!(
                shape.memory_accesses_max <= MEMORY_ACCESSES_PER_FUNCTION_MAX / 2,
                "{name}: {shape:?}"
            );
            assert!(
                shape.memory_access_work <= MEMORY_ACCESS_WORK_MAX / 2,
                "{name}: {shape:?}"
            );
            println!("{name}: {shape:?}");
        }
    }
}

//! The host's imports, callable from a rule: real imports in Wasm, stubs that
//! record into a thread-local buffer when the rule runs natively.

/// Writes a line to the host's log for this evaluation.
///
/// In Wasm this calls the `hongbao.log` import; the host counts the call and
/// its bytes against the rule's limits. Natively, the line is kept so that a
/// unit test can read it back with [`take_logs`].
pub fn log(level: i32, message: &str) {
    imp::log(level, message);
}

/// Returns and clears the lines this thread logged natively (always empty in Wasm).
pub fn take_logs() -> Vec<(i32, String)> {
    imp::take_logs()
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, reason = "calling a host import is an FFI call")]
mod imp {
    #[link(wasm_import_module = "hongbao")]
    unsafe extern "C" {
        #[link_name = "log"]
        fn hongbao_log(level: i32, ptr: *const u8, len: usize);
    }

    pub fn log(level: i32, message: &str) {
        // SAFETY: the pointer and length describe a live UTF-8 string.
        unsafe { hongbao_log(level, message.as_ptr(), message.len()) }
    }

    pub fn take_logs() -> Vec<(i32, String)> {
        Vec::new()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::cell::RefCell;

    thread_local! {
        static LOGS: RefCell<Vec<(i32, String)>> = const { RefCell::new(Vec::new()) };
    }

    pub fn log(level: i32, message: &str) {
        LOGS.with(|l| l.borrow_mut().push((level, message.to_string())));
    }

    pub fn take_logs() -> Vec<(i32, String)> {
        LOGS.with(|l| std::mem::take(&mut *l.borrow_mut()))
    }
}

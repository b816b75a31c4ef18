//! The declarations and the safe wrapper (feature `librepo`).

use std::ffi::{c_char, c_int, c_long, c_void, CStr, CString};
use std::ptr;

/// glib's gboolean.
pub type Gboolean = c_int;

/// glib's GError.
#[repr(C)]
pub struct GError {
    /// Error domain (a GQuark).
    pub domain: u32,
    /// Error code.
    pub code: c_int,
    /// Message (UTF-8).
    pub message: *mut c_char,
}

/// glib's singly linked list node.
#[repr(C)]
pub struct GSList {
    /// Element.
    pub data: *mut c_void,
    /// Next node.
    pub next: *mut GSList,
}

/// Opaque librepo handle.
#[repr(C)]
pub struct LrHandle {
    _private: [u8; 0],
}

/// librepo's package download target (layout of librepo 1.14).
#[repr(C)]
pub struct LrPackageTarget {
    /// Related handle.
    pub handle: *mut LrHandle,
    /// Relative part of the URL.
    pub relative_url: *mut c_char,
    /// Destination file or directory.
    pub dest: *mut c_char,
    /// Base URL for this target, if any.
    pub base_url: *mut c_char,
    /// Checksum type (`LR_CHECKSUM_*`).
    pub checksum_type: c_int,
    /// Expected checksum.
    pub checksum: *mut c_char,
    /// Expected size.
    pub expectedsize: i64,
    /// Resume allowed.
    pub resume: Gboolean,
    /// Progress callback.
    pub progresscb: *mut c_void,
    /// Callback data.
    pub cbdata: *mut c_void,
    /// End callback.
    pub endcb: *mut c_void,
    /// Mirror failure callback.
    pub mirrorfailurecb: *mut c_void,
    /// Byte range start.
    pub byterangestart: i64,
    /// Byte range end.
    pub byterangeend: i64,
    /// Filled in: where the file was written.
    pub local_path: *mut c_char,
    /// Filled in: error message or NULL.
    pub err: *mut c_char,
    /// String chunk (internal).
    pub chunk: *mut c_void,
}

/// `LRO_URLS` (char ** NULL-terminated).
pub const LRO_URLS: c_int = 1;
/// `LRO_PROXY` (char *).
pub const LRO_PROXY: c_int = 8;
/// `LRO_REPOTYPE` (long).
pub const LRO_REPOTYPE: c_int = 17;
/// `LRO_CONNECTTIMEOUT` (long seconds).
pub const LRO_CONNECTTIMEOUT: c_int = 18;
/// `LRO_USERAGENT` (char *).
pub const LRO_USERAGENT: c_int = 21;
/// `LRO_MAXMIRRORTRIES` (long).
pub const LRO_MAXMIRRORTRIES: c_int = 23;
/// `LRO_MAXPARALLELDOWNLOADS` (long).
pub const LRO_MAXPARALLELDOWNLOADS: c_int = 24;
/// `LRO_LOWSPEEDTIME` (long seconds).
pub const LRO_LOWSPEEDTIME: c_int = 32;
/// `LRO_LOWSPEEDLIMIT` (long bytes/s).
pub const LRO_LOWSPEEDLIMIT: c_int = 33;
/// `LRO_ALLOWEDMIRRORFAILURES` (long).
pub const LRO_ALLOWEDMIRRORFAILURES: c_int = 42;
/// `LRO_SSLCACERT` (char *).
pub const LRO_SSLCACERT: c_int = 50;
/// `LR_YUMREPO` repository type.
pub const LR_YUMREPO: c_long = 2;
/// `LR_CHECKSUM_UNKNOWN`.
pub const LR_CHECKSUM_UNKNOWN: c_int = 0;
/// `LR_CHECKSUM_SHA256`.
pub const LR_CHECKSUM_SHA256: c_int = 4;
/// `LR_TRANSFER_SUCCESSFUL` (an `LrTransferStatus`).
pub const LR_TRANSFER_SUCCESSFUL: c_int = 0;
/// `LR_TRANSFER_ALREADYEXISTS` (an `LrTransferStatus`).
pub const LR_TRANSFER_ALREADYEXISTS: c_int = 1;
/// `LR_CB_OK`: the callback's "go on".
pub const LR_CB_OK: c_int = 0;

/// `LrEndCb`: called by librepo when one target is finished (`clientp` is the target's
/// `cbdata`).
pub type LrEndCb =
    unsafe extern "C" fn(clientp: *mut c_void, status: c_int, msg: *const c_char) -> c_int;

extern "C" {
    /// Creates a handle.
    pub fn lr_handle_init() -> *mut LrHandle;
    /// Frees a handle.
    pub fn lr_handle_free(handle: *mut LrHandle);
    /// Sets a handle option (variadic: the value's C type depends on `option`).
    pub fn lr_handle_setopt(
        handle: *mut LrHandle,
        err: *mut *mut GError,
        option: c_int,
        ...
    ) -> Gboolean;
    /// Creates a package target.
    pub fn lr_packagetarget_new_v2(
        handle: *mut LrHandle,
        relative_url: *const c_char,
        dest: *const c_char,
        checksum_type: c_int,
        checksum: *const c_char,
        expectedsize: i64,
        base_url: *const c_char,
        resume: Gboolean,
        progresscb: *mut c_void,
        cbdata: *mut c_void,
        endcb: Option<LrEndCb>,
        mirrorfailurecb: *mut c_void,
        err: *mut *mut GError,
    ) -> *mut LrPackageTarget;
    /// Frees a package target.
    pub fn lr_packagetarget_free(target: *mut LrPackageTarget);
    /// Downloads every target of the list (flags: 0 = not fail-fast).
    pub fn lr_download_packages(
        targets: *mut GSList,
        flags: c_int,
        err: *mut *mut GError,
    ) -> Gboolean;
    /// glib: appends to a list.
    pub fn g_slist_append(list: *mut GSList, data: *mut c_void) -> *mut GSList;
    /// glib: frees a list (not its elements).
    pub fn g_slist_free(list: *mut GSList);
    /// glib: frees an error.
    pub fn g_error_free(err: *mut GError);
}

/// One file for [`download_packages`].
#[derive(Debug, Clone)]
pub struct Target {
    /// Path relative to the base URLs.
    pub relative_url: String,
    /// Destination file.
    pub dest: std::path::PathBuf,
    /// Expected SHA-256 (hex), if known.
    pub sha256: Option<String>,
    /// Expected size, if known.
    pub size: Option<u64>,
}

/// Settings for [`download_packages`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Base URLs, tried in order.
    pub urls: Vec<String>,
    /// Parallel downloads.
    pub parallel: u32,
    /// Connect timeout in seconds.
    pub connect_timeout_secs: u32,
    /// Abort a transfer slower than 1 byte/s for this many seconds (stall).
    pub stall_secs: u32,
    /// Extra CA bundle, if any.
    pub ca_file: Option<String>,
}

/// A librepo failure: librepo's own message (for a target, prefixed with its relative
/// path; librepo names the mirrors it tried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibrepoError(pub String);

impl std::fmt::Display for LibrepoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LibrepoError {}

fn take_gerror(err: *mut GError) -> LibrepoError {
    if err.is_null() {
        return LibrepoError("unknown librepo error".into());
    }
    // SAFETY: librepo returned a valid GError; we read its message and free it.
    unsafe {
        let msg = if (*err).message.is_null() {
            "librepo error without message".to_string()
        } else {
            CStr::from_ptr((*err).message)
                .to_string_lossy()
                .into_owned()
        };
        g_error_free(err);
        LibrepoError(msg)
    }
}

fn cstring(s: &str) -> Result<CString, LibrepoError> {
    CString::new(s).map_err(|_| LibrepoError(format!("{s:?} contains a NUL byte")))
}

/// What the end callback of one target sees.
struct EndData<'a> {
    index: usize,
    on_done: &'a dyn Fn(usize),
}

/// The `LrEndCb` of every target: reports a successful target to its `on_done`.
unsafe extern "C" fn end_callback(
    clientp: *mut c_void,
    status: c_int,
    _msg: *const c_char,
) -> c_int {
    if !clientp.is_null()
        && (status == LR_TRANSFER_SUCCESSFUL || status == LR_TRANSFER_ALREADYEXISTS)
    {
        // SAFETY: clientp is the `EndData` given to lr_packagetarget_new_v2, which lives
        // until lr_download_packages has returned.
        let data = unsafe { &*(clientp as *const EndData<'_>) };
        // No panic may unwind into C.
        let _ =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (data.on_done)(data.index)));
    }
    LR_CB_OK
}

/// Downloads `targets` with librepo. `on_done(i)` is called (on this thread) as soon as
/// target `i` is complete and verified by librepo, while others may still be running.
/// The outer error is a setup failure; the inner results are per target (librepo's
/// message, which names the URL).
pub fn download_packages(
    opts: &Options,
    targets: &[Target],
    on_done: &dyn Fn(usize),
) -> Result<Vec<Result<(), LibrepoError>>, LibrepoError> {
    let end_data: Vec<EndData<'_>> = (0..targets.len())
        .map(|index| EndData { index, on_done })
        .collect();
    let urls: Vec<CString> = opts
        .urls
        .iter()
        .map(|u| cstring(u))
        .collect::<Result<_, _>>()?;
    let mut url_ptrs: Vec<*const c_char> = urls.iter().map(|u| u.as_ptr()).collect();
    url_ptrs.push(ptr::null());
    let ca = opts.ca_file.as_deref().map(cstring).transpose()?;
    // SAFETY: FFI calls with valid pointers that outlive the calls; every
    // object created here is freed before returning.
    unsafe {
        let h = lr_handle_init();
        if h.is_null() {
            return Err(LibrepoError("lr_handle_init failed".into()));
        }
        let mut err: *mut GError = ptr::null_mut();
        let set_ok = lr_handle_setopt(h, &mut err, LRO_REPOTYPE, LR_YUMREPO) != 0
            && lr_handle_setopt(h, &mut err, LRO_URLS, url_ptrs.as_ptr()) != 0
            && lr_handle_setopt(
                h,
                &mut err,
                LRO_MAXPARALLELDOWNLOADS,
                opts.parallel.max(1) as c_long,
            ) != 0
            && lr_handle_setopt(
                h,
                &mut err,
                LRO_CONNECTTIMEOUT,
                opts.connect_timeout_secs as c_long,
            ) != 0
            && lr_handle_setopt(h, &mut err, LRO_LOWSPEEDTIME, opts.stall_secs as c_long) != 0
            && lr_handle_setopt(h, &mut err, LRO_LOWSPEEDLIMIT, 1 as c_long) != 0
            && ca
                .as_ref()
                .is_none_or(|c| lr_handle_setopt(h, &mut err, LRO_SSLCACERT, c.as_ptr()) != 0);
        if !set_ok {
            lr_handle_free(h);
            return Err(take_gerror(err));
        }
        let mut keep: Vec<CString> = Vec::new();
        let mut made: Vec<*mut LrPackageTarget> = Vec::new();
        let mut list: *mut GSList = ptr::null_mut();
        let mut setup_err = None;
        for (t, data) in targets.iter().zip(&end_data) {
            let rel = cstring(&t.relative_url);
            let dest = cstring(&t.dest.to_string_lossy());
            let sum = t.sha256.as_deref().map(cstring).transpose();
            let (rel, dest, sum) = match (rel, dest, sum) {
                (Ok(r), Ok(d), Ok(s)) => (r, d, s),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                    setup_err = Some(e);
                    break;
                }
            };
            let (ctype, cptr) = match &sum {
                Some(s) => (LR_CHECKSUM_SHA256, s.as_ptr()),
                None => (LR_CHECKSUM_UNKNOWN, ptr::null()),
            };
            let mut terr: *mut GError = ptr::null_mut();
            let pt = lr_packagetarget_new_v2(
                h,
                rel.as_ptr(),
                dest.as_ptr(),
                ctype,
                cptr,
                t.size.map_or(0, |s| s as i64),
                ptr::null(),
                1,
                ptr::null_mut(),
                (data as *const EndData<'_>).cast_mut().cast(),
                Some(end_callback),
                ptr::null_mut(),
                &mut terr,
            );
            keep.extend([rel, dest]);
            keep.extend(sum);
            if pt.is_null() {
                setup_err = Some(take_gerror(terr));
                break;
            }
            made.push(pt);
            list = g_slist_append(list, pt.cast());
        }
        let result = if let Some(e) = setup_err {
            Err(e)
        } else {
            let mut derr: *mut GError = ptr::null_mut();
            if lr_download_packages(list, 0, &mut derr) == 0 {
                Err(take_gerror(derr))
            } else {
                Ok(made
                    .iter()
                    .zip(targets)
                    .map(|(&pt, t)| {
                        if (*pt).err.is_null() {
                            Ok(())
                        } else {
                            let msg = CStr::from_ptr((*pt).err).to_string_lossy();
                            Err(LibrepoError(format!("{}: {msg}", t.relative_url)))
                        }
                    })
                    .collect())
            }
        };
        for pt in made {
            lr_packagetarget_free(pt);
        }
        g_slist_free(list);
        lr_handle_free(h);
        drop(keep);
        drop(end_data);
        result
    }
}

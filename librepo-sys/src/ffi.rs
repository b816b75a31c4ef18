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

/// The file librepo is loaded from: the runtime library of Debian's `librepo0` (glib
/// comes with it as its dependency).
pub const LIBRARY: &str = "librepo.so.0";

// librepo is opened with dlopen at first use rather than linked: linked, the dynamic
// loader maps it, glib and the ~40 libraries they need (curl, gnutls, gpgme, libxml2, ICU,
// Kerberos) at the start of every jigdo command, about 0.1 s with a cold page cache, while
// only `--backend librepo` downloads use it. No crate wraps librepo, so the nine
// functions are declared here by hand; `libloading` does the dlopen and dlsym.

/// `lr_handle_setopt`: variadic, the value's C type depends on the option.
type SetoptFn = unsafe extern "C" fn(*mut LrHandle, *mut *mut GError, c_int, ...) -> Gboolean;
/// `lr_packagetarget_new_v2`.
type PackageTargetNewFn = unsafe extern "C" fn(
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

/// The librepo and glib functions the download uses, resolved in the loaded library.
struct Api {
    handle_init: unsafe extern "C" fn() -> *mut LrHandle,
    handle_free: unsafe extern "C" fn(*mut LrHandle),
    handle_setopt: SetoptFn,
    packagetarget_new_v2: PackageTargetNewFn,
    packagetarget_free: unsafe extern "C" fn(*mut LrPackageTarget),
    /// `lr_download_packages(targets, flags, err)` (flags 0: not fail-fast).
    download_packages: unsafe extern "C" fn(*mut GSList, c_int, *mut *mut GError) -> Gboolean,
    slist_append: unsafe extern "C" fn(*mut GSList, *mut c_void) -> *mut GSList,
    slist_free: unsafe extern "C" fn(*mut GSList),
    error_free: unsafe extern "C" fn(*mut GError),
    /// Keeps the library mapped: it is never unloaded while the process runs.
    _library: libloading::Library,
}

impl Api {
    /// Opens `file` and resolves every function, or says which one is missing.
    fn load(file: &str) -> Result<Api, LibrepoError> {
        // SAFETY: loading librepo runs its and glib's initialisers, which need nothing
        // from us.
        let library = unsafe { libloading::Library::new(file) }.map_err(|e| {
            LibrepoError(format!(
                "cannot load {file} (install Debian's librepo0 package): {e}"
            ))
        })?;
        /// Resolves one symbol as a function pointer of type `T`.
        ///
        /// SAFETY (callers): `T` must be the C signature of `name`.
        unsafe fn get<T: Copy>(
            library: &libloading::Library,
            file: &str,
            name: &str,
        ) -> Result<T, LibrepoError> {
            let c_name = format!("{name}\0");
            // SAFETY: the caller gives the symbol's signature as `T`.
            unsafe { library.get::<T>(c_name.as_bytes()) }
                .map(|symbol| *symbol)
                .map_err(|e| LibrepoError(format!("{file} has no {name}: {e}")))
        }
        // SAFETY: each type below is the function's signature in librepo 1.14 and glib 2
        // (dlsym on librepo's handle also searches the libraries it needs, glib among them).
        unsafe {
            Ok(Api {
                handle_init: get(&library, file, "lr_handle_init")?,
                handle_free: get(&library, file, "lr_handle_free")?,
                handle_setopt: get(&library, file, "lr_handle_setopt")?,
                packagetarget_new_v2: get(&library, file, "lr_packagetarget_new_v2")?,
                packagetarget_free: get(&library, file, "lr_packagetarget_free")?,
                download_packages: get(&library, file, "lr_download_packages")?,
                slist_append: get(&library, file, "g_slist_append")?,
                slist_free: get(&library, file, "g_slist_free")?,
                error_free: get(&library, file, "g_error_free")?,
                _library: library,
            })
        }
    }
}

/// librepo, loaded at the first call that needs it (or the reason it cannot be).
fn api() -> Result<&'static Api, LibrepoError> {
    static API: std::sync::OnceLock<Result<Api, LibrepoError>> = std::sync::OnceLock::new();
    API.get_or_init(|| Api::load(LIBRARY))
        .as_ref()
        .map_err(Clone::clone)
}

/// Loads librepo now rather than at the first download, so that a caller can refuse
/// `--backend librepo` before any work when the library is not installed.
pub fn load() -> Result<(), LibrepoError> {
    api().map(|_| ())
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

fn take_gerror(api: &Api, err: *mut GError) -> LibrepoError {
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
        (api.error_free)(err);
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
    let api = api()?;
    // SAFETY: FFI calls with valid pointers that outlive the calls; every
    // object created here is freed before returning.
    unsafe {
        let h = (api.handle_init)();
        if h.is_null() {
            return Err(LibrepoError("lr_handle_init failed".into()));
        }
        let mut err: *mut GError = ptr::null_mut();
        let set_ok = (api.handle_setopt)(h, &mut err, LRO_REPOTYPE, LR_YUMREPO) != 0
            && (api.handle_setopt)(h, &mut err, LRO_URLS, url_ptrs.as_ptr()) != 0
            && (api.handle_setopt)(
                h,
                &mut err,
                LRO_MAXPARALLELDOWNLOADS,
                opts.parallel.max(1) as c_long,
            ) != 0
            && (api.handle_setopt)(
                h,
                &mut err,
                LRO_CONNECTTIMEOUT,
                opts.connect_timeout_secs as c_long,
            ) != 0
            && (api.handle_setopt)(h, &mut err, LRO_LOWSPEEDTIME, opts.stall_secs as c_long) != 0
            && (api.handle_setopt)(h, &mut err, LRO_LOWSPEEDLIMIT, 1 as c_long) != 0
            && ca
                .as_ref()
                .is_none_or(|c| (api.handle_setopt)(h, &mut err, LRO_SSLCACERT, c.as_ptr()) != 0);
        if !set_ok {
            (api.handle_free)(h);
            return Err(take_gerror(api, err));
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
            let pt = (api.packagetarget_new_v2)(
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
                setup_err = Some(take_gerror(api, terr));
                break;
            }
            made.push(pt);
            list = (api.slist_append)(list, pt.cast());
        }
        let result = if let Some(e) = setup_err {
            Err(e)
        } else {
            let mut derr: *mut GError = ptr::null_mut();
            if (api.download_packages)(list, 0, &mut derr) == 0 {
                Err(take_gerror(api, derr))
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
            (api.packagetarget_free)(pt);
        }
        (api.slist_free)(list);
        (api.handle_free)(h);
        drop(keep);
        drop(end_data);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_that_cannot_be_loaded_is_named_with_the_package_to_install() {
        let Err(e) = Api::load("libjigdo-test-no-such-library.so.0") else {
            panic!("a missing library was loaded");
        };
        assert!(e.0.contains("libjigdo-test-no-such-library.so.0"), "{e}");
        assert!(e.0.contains("librepo0"), "{e}");
    }

    #[test]
    fn every_function_is_found_in_the_installed_librepo() {
        load().expect("librepo.so.0 (Debian's librepo0) loads");
    }

    #[test]
    fn a_library_without_the_functions_is_refused_naming_the_first_missing_one() {
        // libz is on every Debian machine and has none of librepo's functions.
        let Err(e) = Api::load("libz.so.1") else {
            panic!("libz was taken for librepo");
        };
        assert!(e.0.contains("has no lr_handle_init"), "{e}");
    }
}

//! Which c-blosc2 runs the plugin, and so which `blosc2_schunk` layout to read.
//!
//! The SChunk layout changed between c-blosc2 2.x and 3.x (see [`super::abi`]) and may change
//! again, so the plugin reads it only in the layout of the host's c-blosc2 version. It learns
//! the version, in this order:
//!
//! 1. from the host, through [`blosc2_vq_set_host_blosc2_version`] (python-blosc2 links
//!    c-blosc2 statically without exporting it, so `blosc2_vq.register()` declares
//!    `blosc2.blosclib_version`; programs that link the plugin declare `BLOSC2_VERSION_STRING`);
//! 2. from `blosc2_get_version_string` of a shared `libblosc2.so` loaded in the process
//!    (linked by the program, or opened with RTLD_LOCAL by an interpreter). A static
//!    c-blosc2 hides its symbols (it is built with hidden visibility), so a program linking
//!    it must declare the version.
//!
//! The layout of that version comes from the table ([`SUPPORTED_BLOSC2`]) when the version is
//! in it. Otherwise the plugin learns it from a shared c-blosc2 of exactly that version loaded
//! in the process ([`probe`]: it builds SChunks there and watches which bytes change), once
//! per version and process. Python loads python-blosc2's own `libblosc2.so` for that when it
//! needs to. A version that is in neither is refused with a message that names the supported
//! versions and says why the probe failed; the SChunk is never read on a guess.

pub mod probe;

use super::abi::{SchunkLayout, SCHUNK_LAYOUT_V2, SCHUNK_LAYOUT_V3};
use super::{guard, write_c_string};
use crate::error::{Error, Result};
use probe::{Blosc2Api, ProbedLayout, BLOSC2_SYMBOLS};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The c-blosc2 versions whose SChunk layout the plugin reads (each checked offset by offset
/// against that release's `blosc2.h`; `tests/abi_layout.rs` checks 2.15 against blosc2-sys).
pub const SUPPORTED_BLOSC2: &str = "c-blosc2 2.15 to 2.23 and 3.0 to 3.3";

/// A c-blosc2 version, as `BLOSC2_VERSION_STRING` spells it ("3.3.5", "2.22.1.dev",
/// "3.3.5 ($Date:: 2026-09-24 #$)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Blosc2Version {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
    /// Patch version.
    pub patch: u16,
}

impl Blosc2Version {
    /// Parses the leading `major.minor[.patch]` of a version string.
    pub fn parse(text: &str) -> Option<Self> {
        let head = text.split_whitespace().next()?;
        let mut parts = head.split('.');
        let number = |part: Option<&str>| -> Option<u16> {
            let digits: String = part?.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        let major = number(parts.next())?;
        let minor = number(parts.next())?;
        let patch = number(parts.next()).unwrap_or(0);
        Some(Blosc2Version {
            major,
            minor,
            patch,
        })
    }

    /// The SChunk layout of this version from the table, or an error naming the versions in
    /// it (see [`layout_of`], which also learns the layout of others).
    pub fn schunk_layout(self) -> std::result::Result<&'static SchunkLayout, String> {
        match (self.major, self.minor) {
            (2, 15..=23) => Ok(&SCHUNK_LAYOUT_V2),
            (3, 0..=3) => Ok(&SCHUNK_LAYOUT_V3),
            _ => Err(self.unsupported("")),
        }
    }

    /// The refusal of this version, with why its layout could not be learned (`why`, when
    /// not empty).
    fn unsupported(self, why: &str) -> String {
        let probe = if why.is_empty() {
            String::new()
        } else {
            format!(", and learning this one's from the c-blosc2 in the process failed: {why}")
        };
        format!(
            "c-blosc2 {self} is not supported: this blosc2-vq {} reads the SChunk layouts of \
             {SUPPORTED_BLOSC2}{probe} (upgrade blosc2-vq, or use a supported c-blosc2)",
            env!("CARGO_PKG_VERSION")
        )
    }

    fn pack(self) -> u64 {
        1 << 48 | u64::from(self.major) << 32 | u64::from(self.minor) << 16 | u64::from(self.patch)
    }

    fn unpack(packed: u64) -> Option<Self> {
        (packed != 0).then_some(Blosc2Version {
            major: (packed >> 32) as u16,
            minor: (packed >> 16) as u16,
            patch: packed as u16,
        })
    }
}

impl std::fmt::Display for Blosc2Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The version the host declared (packed; 0: none).
static DECLARED: AtomicU64 = AtomicU64::new(0);

/// Declares the c-blosc2 version of the host (what [`blosc2_vq_set_host_blosc2_version`]
/// does for C). A version outside [`SUPPORTED_BLOSC2`] has its layout learned from a shared
/// c-blosc2 of that version in the process ([`layout_of`]); fails, declaring nothing, when
/// there is none or the probe fails.
pub fn set_host_blosc2_version(text: &str) -> Result<Blosc2Version> {
    let version = Blosc2Version::parse(text).ok_or_else(|| {
        Error::UnsupportedSettings(format!(
            "{text:?} is not a c-blosc2 version (expected major.minor.patch)"
        ))
    })?;
    layout_of(version).map_err(Error::UnsupportedSettings)?;
    DECLARED.store(version.pack(), Ordering::Relaxed);
    Ok(version)
}

/// Layouts learned by probing, by version: each version is probed once per process (a
/// version whose c-blosc2 is not loaded is not remembered, so that loading it and asking
/// again works).
type Learned = Vec<(
    Blosc2Version,
    std::result::Result<&'static SchunkLayout, String>,
)>;
static LEARNED: Mutex<Learned> = Mutex::new(Vec::new());

/// The SChunk layout of `version`: from the table, else learned from the shared c-blosc2 of
/// that version loaded in the process ([`probe`]), else an error that names the supported
/// versions and says why the probe failed.
pub fn layout_of(version: Blosc2Version) -> std::result::Result<&'static SchunkLayout, String> {
    if let Ok(layout) = version.schunk_layout() {
        return Ok(layout);
    }
    let mut learned = LEARNED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, outcome)) = learned.iter().find(|(v, _)| *v == version) {
        return outcome.clone();
    }
    match probe_loaded_blosc2(version) {
        Probe::NotLoaded(why) => Err(version.unsupported(&why)),
        Probe::Done(outcome) => {
            let outcome = outcome
                .map(|probed| {
                    let name = format!("c-blosc2 {version} (learned by probing)");
                    let layout = probed.schunk_layout(Box::leak(name.into_boxed_str()));
                    &*Box::leak(Box::new(layout))
                })
                .map_err(|why| version.unsupported(&why));
            learned.push((version, outcome.clone()));
            outcome
        }
    }
}

/// The host's c-blosc2 version: declared, else found in the process (searched once), else
/// None.
pub fn host_blosc2_version() -> Option<Blosc2Version> {
    Blosc2Version::unpack(DECLARED.load(Ordering::Relaxed)).or_else(|| {
        static FOUND: OnceLock<Option<Blosc2Version>> = OnceLock::new();
        *FOUND.get_or_init(find_loaded_blosc2)
    })
}

/// The SChunk layout to read, or why the plugin will not read one.
pub fn host_schunk_layout() -> std::result::Result<&'static SchunkLayout, String> {
    match host_blosc2_version() {
        Some(version) => layout_of(version),
        None => Err(format!(
            "cannot tell which c-blosc2 runs this plugin, so its SChunk layout is unknown \
             (supported: {SUPPORTED_BLOSC2}). Python: call blosc2_vq.register(). Programs \
             linking libblosc2_vq: call blosc2_vq_set_host_blosc2_version(blosc2_get_version_string()). \
             Others: link c-blosc2 as a shared library (libblosc2.so), which the plugin finds itself"
        )),
    }
}

/// `blosc2_get_version_string` of a c-blosc2 in the process: the global scope first (a shared
/// libblosc2 the program links), then every loaded object named `libblosc2.so*` (opened
/// with RTLD_LOCAL by an interpreter, say).
fn find_loaded_blosc2() -> Option<Blosc2Version> {
    loaded_blosc2s().iter().find_map(LoadedBlosc2::version)
}

/// What probing the c-blosc2 loaded in the process gave.
enum Probe {
    /// No shared c-blosc2 of that version is loaded (why, for the message).
    NotLoaded(String),
    /// The probe ran: the layout, or why it failed.
    Done(std::result::Result<ProbedLayout, String>),
}

/// Learns the SChunk layout of `version` from a shared c-blosc2 of that version loaded in
/// the process ([`probe::probe_schunk_layout`]).
fn probe_loaded_blosc2(version: Blosc2Version) -> Probe {
    let loaded = loaded_blosc2s();
    let mut others = Vec::new();
    for lib in &loaded {
        match lib.version() {
            Some(v) if v == version => {}
            Some(v) => {
                others.push(format!("{} is {v}", lib.label));
                continue;
            }
            None => continue,
        }
        let outcome = lib.api().and_then(|api| {
            // SAFETY: the functions of one c-blosc2 (checked by `api`), called outside its
            // codec callbacks or, when the version was not declared, from one with the
            // library in a state where it can create SChunks.
            unsafe { probe::probe_schunk_layout(&api) }
        });
        return Probe::Done(outcome.map_err(|why| format!("probing {}: {why}", lib.label)));
    }
    Probe::NotLoaded(if others.is_empty() {
        "no shared c-blosc2 (libblosc2.so) is loaded in this process to learn it from (a \
         c-blosc2 linked statically hides the functions the probe calls: link it as a shared \
         library)"
            .to_string()
    } else {
        format!(
            "the shared c-blosc2 loaded in this process is another version ({})",
            others.join("; ")
        )
    })
}

/// [`probe::probe_schunk_layout`] on the shared c-blosc2 loaded in the process, whatever its
/// version (for checks: the table has the known ones, [`layout_of`] probes only others).
/// Returns the library's path with the outcome, or None when no c-blosc2 is loaded.
pub fn probe_loaded_blosc2_layout() -> Option<(String, std::result::Result<ProbedLayout, String>)> {
    let loaded = loaded_blosc2s();
    let lib = loaded.iter().find(|lib| lib.version().is_some())?;
    // SAFETY: as in probe_loaded_blosc2.
    let outcome = lib
        .api()
        .and_then(|api| unsafe { probe::probe_schunk_layout(&api) });
    Some((lib.label.clone(), outcome))
}

/// A c-blosc2 loaded in the process: where its functions are looked up.
struct LoadedBlosc2 {
    /// RTLD_DEFAULT (the global scope), or a handle from `dlopen(RTLD_NOLOAD)`.
    handle: *mut c_void,
    /// Its path, for messages.
    label: String,
}

/// The c-blosc2s loaded in the process: the one in the global scope (if its symbols are
/// exported), then each object named `libblosc2.so*`.
fn loaded_blosc2s() -> Vec<LoadedBlosc2> {
    let mut found = Vec::new();
    // SAFETY: RTLD_DEFAULT and a NUL-terminated name.
    let global = unsafe { libc::dlsym(libc::RTLD_DEFAULT, BLOSC2_SYMBOLS[0].as_ptr()) };
    if !global.is_null() {
        found.push(LoadedBlosc2 {
            handle: libc::RTLD_DEFAULT,
            label: object_of(global).unwrap_or_else(|| "the program's c-blosc2".into()),
        });
    }
    let mut names: Vec<CString> = Vec::new();
    unsafe extern "C" fn collect(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> c_int {
        // SAFETY: dl_iterate_phdr passes a valid info and our `names` vector as data.
        let (info, names) = unsafe { (&*info, &mut *data.cast::<Vec<CString>>()) };
        if !info.dlpi_name.is_null() {
            // SAFETY: dlpi_name is a NUL-terminated path owned by the loader.
            let path = unsafe { CStr::from_ptr(info.dlpi_name) };
            let file = path.to_bytes().rsplit(|&b| b == b'/').next().unwrap_or(b"");
            if file.starts_with(b"libblosc2.so") {
                names.push(path.to_owned());
            }
        }
        0
    }
    // SAFETY: the callback only reads `info` and pushes to the vector passed as data.
    unsafe { libc::dl_iterate_phdr(Some(collect), (&mut names as *mut Vec<CString>).cast()) };
    for name in names {
        // SAFETY: RTLD_NOLOAD only returns a handle to an object already loaded.
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
        if !handle.is_null() {
            found.push(LoadedBlosc2 {
                handle,
                label: name.to_string_lossy().into_owned(),
            });
        }
    }
    found
}

/// The path of the object that holds `address` (`dladdr`).
fn object_of(address: *mut c_void) -> Option<String> {
    object_base(address)?.1
}

/// The load address and path of the object that holds `address`.
fn object_base(address: *mut c_void) -> Option<(usize, Option<String>)> {
    // SAFETY: Dl_info is plain data; zeroed is a valid value to be overwritten.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the loader's tables and writes `info`.
    if unsafe { libc::dladdr(address.cast_const(), &mut info) } == 0 {
        return None;
    }
    let name = (!info.dli_fname.is_null())
        // SAFETY: a NUL-terminated path owned by the loader.
        .then(|| {
            unsafe { CStr::from_ptr(info.dli_fname) }
                .to_string_lossy()
                .into_owned()
        });
    Some((info.dli_fbase as usize, name))
}

impl LoadedBlosc2 {
    fn symbol(&self, name: &CStr) -> *mut c_void {
        // SAFETY: a live handle (or RTLD_DEFAULT) and a NUL-terminated name.
        unsafe { libc::dlsym(self.handle, name.as_ptr()) }
    }

    /// Its `blosc2_get_version_string()`, parsed.
    fn version(&self) -> Option<Blosc2Version> {
        let symbol = self.symbol(BLOSC2_SYMBOLS[0]);
        if symbol.is_null() {
            return None;
        }
        // SAFETY: a symbol of that name is c-blosc2's `const char *blosc2_get_version_string(void)`.
        let f = unsafe {
            std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> *const c_char>(symbol)
        };
        // SAFETY: c-blosc2's function: no arguments, a static string or NULL.
        let text = unsafe { f() };
        if text.is_null() {
            return None;
        }
        // SAFETY: c-blosc2 returns a static NUL-terminated string.
        Blosc2Version::parse(&unsafe { CStr::from_ptr(text) }.to_string_lossy())
    }

    /// The functions the probe calls, all from the one object that holds
    /// `blosc2_get_version_string`.
    fn api(&self) -> std::result::Result<Blosc2Api, String> {
        let mut symbols = [std::ptr::null_mut(); BLOSC2_SYMBOLS.len()];
        let mut base = None;
        for (slot, name) in symbols.iter_mut().zip(BLOSC2_SYMBOLS) {
            *slot = self.symbol(name);
            if slot.is_null() {
                return Err(format!(
                    "{} does not export {}",
                    self.label,
                    name.to_string_lossy()
                ));
            }
            let here = object_base(*slot).map(|(b, _)| b);
            if base.is_none() {
                base = here;
            } else if here != base {
                return Err(format!(
                    "{} comes from another object than blosc2_get_version_string",
                    name.to_string_lossy()
                ));
            }
        }
        // SAFETY: the exported functions of those names of one c-blosc2.
        unsafe { Blosc2Api::from_symbols(symbols) }
    }
}

impl Drop for LoadedBlosc2 {
    fn drop(&mut self) {
        if self.handle != libc::RTLD_DEFAULT {
            // SAFETY: balances the dlopen in loaded_blosc2s (the object stays loaded: it
            // was before).
            unsafe { libc::dlclose(self.handle) };
        }
    }
}

/// Tells the plugin which c-blosc2 runs it (pass `blosc2_get_version_string()`): needed when
/// c-blosc2 is linked statically, where the plugin cannot find it itself (a shared
/// libblosc2.so it finds). Returns 0, or a negative
/// code (nothing declared) for a NULL pointer, a string that is not a version, or a c-blosc2
/// whose SChunk layout this plugin does not know (the message names the supported versions).
///
/// # Safety
/// `version` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_set_host_blosc2_version(version: *const c_char) -> c_int {
    guard("blosc2_vq_set_host_blosc2_version", || {
        if version.is_null() {
            return Err(Error::NullPointer("version"));
        }
        // SAFETY: checked non-NULL; the caller passes a NUL-terminated string.
        let text = unsafe { CStr::from_ptr(version) }.to_string_lossy();
        set_host_blosc2_version(&text)?;
        Ok(0)
    })
}

/// Writes the c-blosc2 version the plugin reads SChunks for ("major.minor.patch": declared,
/// or found in the process; "" if neither) into `buffer`, as `blosc2_vq_last_codec_error`
/// writes its message: at most `buffer_len - 1` bytes and a NUL (nothing for a `buffer_len`
/// of 0 or less). Returns the version's length, or a negative code for a NULL `buffer` with a
/// positive `buffer_len`.
///
/// # Safety
/// `buffer` must point to `buffer_len` writable bytes when `buffer_len` is positive.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_host_blosc2_version(
    buffer: *mut c_char,
    buffer_len: i64,
) -> i64 {
    let text = host_blosc2_version()
        .map(|v| v.to_string())
        .unwrap_or_default();
    // SAFETY: the caller's contract, passed on.
    unsafe { write_c_string("blosc2_vq_host_blosc2_version", &text, buffer, buffer_len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_as_c_blosc2_spells_them() {
        let v = |s| Blosc2Version::parse(s).map(|v| v.to_string());
        assert_eq!(v("3.3.5 ($Date:: 2026-09-24 #$)").as_deref(), Some("3.3.5"));
        assert_eq!(v("2.22.1.dev").as_deref(), Some("2.22.1"));
        assert_eq!(v("2.15.2").as_deref(), Some("2.15.2"));
        assert_eq!(v("3.0").as_deref(), Some("3.0.0"));
        assert_eq!(v("three"), None);
        assert_eq!(v(""), None);
    }

    #[test]
    fn only_known_layouts_are_read() {
        let layout = |s| {
            Blosc2Version::parse(s)
                .unwrap()
                .schunk_layout()
                .map(|l| l.name)
        };
        assert_eq!(layout("2.15.0"), Ok("c-blosc2 2.x"));
        assert_eq!(layout("2.23.1"), Ok("c-blosc2 2.x"));
        assert_eq!(layout("3.0.0"), Ok("c-blosc2 3.x"));
        assert_eq!(layout("3.3.5"), Ok("c-blosc2 3.x"));
        for unknown in ["2.14.4", "2.24.0", "3.4.0", "4.0.0", "1.21.6"] {
            let err = layout(unknown).unwrap_err();
            assert!(err.contains(SUPPORTED_BLOSC2), "{unknown}: {err}");
        }
    }
}

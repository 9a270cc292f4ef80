//! The SChunk layout probe (`blosc2_vq::ffi::host::probe`): against blosc2-sys's static
//! c-blosc2 2.15 through its function table (no dlsym), against fake c-blosc2s with the 3.x
//! layout, a future one and broken ones, and, when `BLOSC2_VQ_TEST_LIBBLOSC2` names a
//! `libblosc2.so` (python-blosc2's wheels ship one), against that library loaded as a
//! Python process loads it, through the plugin's own lookup.
#![allow(unsafe_code)]

use blosc2_sys as sys;
use blosc2_vq::ffi::abi::{
    self, Blosc2CParams, Blosc2Metalayer, SchunkLayout, SCHUNK_LAYOUT_V2, SCHUNK_LAYOUT_V3,
};
use blosc2_vq::ffi::host::{self, probe, Blosc2Version, SUPPORTED_BLOSC2};
use probe::{Blosc2Api, ProbedLayout};
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};
use std::mem::offset_of;

// blosc2-sys's functions with the probe's pointer types.
unsafe extern "C" fn sys_version() -> *const c_char {
    unsafe { sys::blosc2_get_version_string() }
}
unsafe extern "C" fn sys_init() {
    unsafe { sys::blosc2_init() }
}
unsafe extern "C" fn sys_schunk_new(storage: *mut c_void) -> *mut c_void {
    unsafe { sys::blosc2_schunk_new(storage.cast()).cast() }
}
unsafe extern "C" fn sys_schunk_free(schunk: *mut c_void) -> c_int {
    unsafe { sys::blosc2_schunk_free(schunk.cast()) }
}
unsafe extern "C" fn sys_meta_add(s: *mut c_void, n: *const c_char, c: *mut u8, l: i32) -> c_int {
    unsafe { sys::blosc2_meta_add(s.cast(), n, c, l) }
}
unsafe extern "C" fn sys_vlmeta_add(
    s: *mut c_void,
    n: *const c_char,
    c: *mut u8,
    l: i32,
    cp: *mut c_void,
) -> c_int {
    unsafe { sys::blosc2_vlmeta_add(s.cast(), n, c, l, cp.cast()) }
}
unsafe extern "C" fn sys_get_cparams(s: *mut c_void, out: *mut *mut c_void) -> c_int {
    unsafe { sys::blosc2_schunk_get_cparams(s.cast(), out.cast()) }
}
unsafe extern "C" fn sys_get_dparams(s: *mut c_void, out: *mut *mut c_void) -> c_int {
    unsafe { sys::blosc2_schunk_get_dparams(s.cast(), out.cast()) }
}

fn blosc2_sys_api() -> Blosc2Api {
    Blosc2Api {
        get_version_string: sys_version,
        init: sys_init,
        schunk_new: sys_schunk_new,
        schunk_free: sys_schunk_free,
        meta_add: sys_meta_add,
        vlmeta_add: sys_vlmeta_add,
        schunk_get_cparams: sys_get_cparams,
        schunk_get_dparams: sys_get_dparams,
        free: libc::free,
        usable_size: libc::malloc_usable_size,
    }
}

/// The probe's offsets equal the table's (ndim and blockshape derived, read or not).
fn assert_same_offsets(probed: &ProbedLayout, table: &SchunkLayout) {
    assert_eq!(probed.typesize, table.typesize, "typesize");
    assert_eq!(probed.metalayers, table.metalayers, "metalayers");
    assert_eq!(probed.nmetalayers, table.nmetalayers, "nmetalayers");
    assert_eq!(probed.ndim, table.ndim, "ndim");
    assert_eq!(probed.blockshape, table.blockshape, "blockshape");
}

#[test]
fn probing_blosc2_sys_2_15_gives_the_tables_offsets() {
    // SAFETY: blosc2-sys's own functions, and the C library's allocator.
    let probed = unsafe { probe::probe_schunk_layout(&blosc2_sys_api()) }.unwrap();
    assert!(probed.version.starts_with("2.15."), "{probed:?}");
    let version = Blosc2Version::parse(&probed.version).unwrap();
    assert_eq!(version.schunk_layout(), Ok(&SCHUNK_LAYOUT_V2));
    assert_same_offsets(&probed, &SCHUNK_LAYOUT_V2);
    assert_eq!(probed.vlmetalayers, 248);
    assert_eq!(probed.nvlmetalayers, 248 + 8 * 8192);
    // 2.15 has no change_tick: nothing brackets ndim and blockshape, so a 2.15 layout learned
    // by probing would not read them (the table's does).
    assert_eq!(probed.change_tick, None);
    assert!(!probed.blockshape_bracketed);
    // A second probe (the library is initialized, the first SChunks freed) agrees.
    // SAFETY: as above.
    assert_eq!(
        unsafe { probe::probe_schunk_layout(&blosc2_sys_api()) }.unwrap(),
        probed
    );
}

// ---------------------------------------------------------------------------------------
// A fake c-blosc2: SChunks laid out as `Fake::layout` says, and ways to break it.

/// Where a fake c-blosc2 keeps each field.
#[derive(Clone, Copy, Debug)]
struct FakeLayout {
    size: usize,
    splitmode: usize,
    typesize: usize,
    blocksize: usize,
    filters: usize,
    metalayers: usize,
    nmetalayers: usize,
    vlmetalayers: usize,
    nvlmetalayers: usize,
    ndim: usize,
    blockshape: usize,
    change_tick: Option<usize>,
}

/// c-blosc2 3.2 to 3.6.
const FAKE_V3: FakeLayout = FakeLayout {
    size: 65840,
    splitmode: 4,
    typesize: 8,
    blocksize: 12,
    filters: 22,
    metalayers: 120,
    nmetalayers: 248,
    vlmetalayers: 256,
    nvlmetalayers: 65792,
    ndim: 65812,
    blockshape: 65816,
    change_tick: Some(65832),
};

/// A future release with 24 more bytes of fields before the metalayer table.
fn fake_future() -> FakeLayout {
    let s = 24;
    FakeLayout {
        size: FAKE_V3.size + s,
        metalayers: FAKE_V3.metalayers + s,
        nmetalayers: FAKE_V3.nmetalayers + s,
        vlmetalayers: FAKE_V3.vlmetalayers + s,
        nvlmetalayers: FAKE_V3.nvlmetalayers + s,
        ndim: FAKE_V3.ndim + s,
        blockshape: FAKE_V3.blockshape + s,
        change_tick: Some(65832 + s),
        ..FAKE_V3
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    /// blosc2_schunk_new returns NULL.
    NoSchunk,
    /// The SChunk is full of random bytes, and blosc2_meta_add changes nothing.
    GarbageUnchanged,
    /// The SChunk is full of random bytes, and blosc2_meta_add scribbles random words.
    GarbageScribbled,
    /// blosc2_meta_add stores an address nothing is mapped at.
    WildPointer,
    /// blosc2_meta_add stores the address of a page that cannot be read (PROT_NONE).
    UnreadablePointer,
    /// blosc2_meta_add stores a metalayer with another name.
    WrongName,
    /// blosc2_meta_add fills two slots.
    TwoSlots,
    /// The metalayer count is not right after the 16 slots.
    CountElsewhere,
    /// blosc2_schunk_get_cparams puts the SChunk's address elsewhere.
    CParamsShifted,
}

struct Fake {
    layout: FakeLayout,
    fault: Fault,
    rng: u64,
    /// blosc2_meta_add calls so far (what a broken one returns).
    calls: c_int,
}

thread_local! {
    static FAKE: RefCell<Fake> = const {
        RefCell::new(Fake {
            layout: FAKE_V3,
            fault: Fault::None,
            rng: 0x9e37_79b9_7f4a_7c15,
            calls: 0,
        })
    };
}

fn fake<T>(f: impl FnOnce(&mut Fake) -> T) -> T {
    FAKE.with(|cell| f(&mut cell.borrow_mut()))
}

fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

unsafe fn put<T: Copy>(base: *mut c_void, offset: usize, value: T) {
    unsafe {
        base.cast::<u8>()
            .add(offset)
            .cast::<T>()
            .write_unaligned(value)
    }
}
unsafe fn get<T: Copy>(base: *const c_void, offset: usize) -> T {
    unsafe { base.cast::<u8>().add(offset).cast::<T>().read_unaligned() }
}

/// A `blosc2_metalayer` from malloc, as c-blosc2 makes it.
unsafe fn new_metalayer(name: *const c_char, content: *const u8, len: i32) -> *mut c_void {
    unsafe {
        let meta = libc::malloc(std::mem::size_of::<Blosc2Metalayer>()).cast::<Blosc2Metalayer>();
        let copy = libc::malloc(len as usize).cast::<u8>();
        std::ptr::copy_nonoverlapping(content, copy, len as usize);
        meta.write(Blosc2Metalayer {
            name: libc::strdup(name),
            content: copy,
            content_len: len,
        });
        meta.cast()
    }
}

unsafe extern "C" fn fake_version() -> *const c_char {
    c"9.1.0".as_ptr()
}
unsafe extern "C" fn fake_init() {}
unsafe extern "C" fn fake_schunk_new(storage: *mut c_void) -> *mut c_void {
    let (l, fault) = fake(|f| (f.layout, f.fault));
    if fault == Fault::NoSchunk {
        return std::ptr::null_mut();
    }
    let garbage = matches!(fault, Fault::GarbageUnchanged | Fault::GarbageScribbled);
    unsafe {
        let sc = libc::calloc(1, l.size);
        if garbage {
            fake(|f| {
                for i in 0..l.size / 8 {
                    put(sc, i * 8, next_random(&mut f.rng));
                }
            });
        }
        // Defaults, or the cparams given (blosc2_storage.cparams is at offset 16).
        let cparams: *const c_void = get(storage, 16);
        let (typesize, blocksize, split, filters) = if cparams.is_null() {
            (8i32, 0i32, 4u8, [0u8, 0, 0, 0, 0, 1])
        } else {
            (
                get::<i32>(cparams, offset_of!(Blosc2CParams, typesize)),
                get::<i32>(cparams, offset_of!(Blosc2CParams, blocksize)),
                get::<i32>(cparams, offset_of!(Blosc2CParams, splitmode)) as u8,
                get::<[u8; 6]>(cparams, offset_of!(Blosc2CParams, filters)),
            )
        };
        put(sc, l.splitmode, split);
        put(sc, l.typesize, typesize);
        put(sc, l.blocksize, blocksize);
        put(sc, l.filters, filters);
        if garbage {
            return sc;
        }
        // Pointers a real SChunk holds from the start (storage, contexts).
        for k in 0..4 {
            put(sc, l.metalayers - 8 * (k + 1), sc as usize + 64 * (k + 1));
        }
        sc
    }
}
unsafe extern "C" fn fake_schunk_free(sc: *mut c_void) -> c_int {
    unsafe { libc::free(sc) };
    0
}
unsafe extern "C" fn fake_meta_add(
    sc: *mut c_void,
    name: *const c_char,
    c: *mut u8,
    len: i32,
) -> c_int {
    let (l, fault, call) = fake(|f| {
        f.calls += 1;
        (f.layout, f.fault, f.calls - 1)
    });
    unsafe {
        match fault {
            Fault::GarbageUnchanged => return call,
            Fault::GarbageScribbled => {
                fake(|f| {
                    for _ in 0..64 {
                        let at = (next_random(&mut f.rng) as usize % (l.size / 8)) * 8;
                        put(sc, at, next_random(&mut f.rng));
                    }
                });
                return call;
            }
            _ => {}
        }
        // (Slot 1 of the variable-length table, which the probe leaves NULL.)
        let count_at = if fault == Fault::CountElsewhere {
            l.nmetalayers + 16
        } else {
            l.nmetalayers
        };
        let n: u16 = get(sc, count_at);
        let meta = match fault {
            // Below vm.mmap_min_addr: never mapped.
            Fault::WildPointer => 0x8000usize as *mut c_void,
            Fault::UnreadablePointer => libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            ),
            Fault::WrongName => new_metalayer(c"other".as_ptr(), c, len),
            _ => new_metalayer(name, c, len),
        };
        put(sc, l.metalayers + 8 * n as usize, meta as usize);
        if fault == Fault::TwoSlots {
            put(sc, l.metalayers + 8 * (n as usize + 8), meta as usize);
        }
        put(sc, count_at, n + 1);
        if let Some(tick) = l.change_tick {
            put(sc, tick, get::<u64>(sc, tick) + 1);
        }
        n as c_int
    }
}
unsafe extern "C" fn fake_vlmeta_add(
    sc: *mut c_void,
    name: *const c_char,
    c: *mut u8,
    len: i32,
    _cparams: *mut c_void,
) -> c_int {
    let (l, fault) = fake(|f| (f.layout, f.fault));
    if matches!(fault, Fault::GarbageUnchanged | Fault::GarbageScribbled) {
        return 0;
    }
    unsafe {
        let n: u16 = get(sc, l.nvlmetalayers);
        put(
            sc,
            l.vlmetalayers + 8 * n as usize,
            new_metalayer(name, c, len) as usize,
        );
        put(sc, l.nvlmetalayers, n + 1);
        if let Some(tick) = l.change_tick {
            put(sc, tick, get::<u64>(sc, tick) + 1);
        }
        n as c_int
    }
}
unsafe extern "C" fn fake_get_cparams(sc: *mut c_void, out: *mut *mut c_void) -> c_int {
    let (l, fault) = fake(|f| (f.layout, f.fault));
    unsafe {
        let cp = libc::calloc(1, std::mem::size_of::<Blosc2CParams>());
        let schunk_at =
            offset_of!(Blosc2CParams, schunk) + 8 * usize::from(fault == Fault::CParamsShifted);
        put(cp, schunk_at, sc);
        put(
            cp,
            offset_of!(Blosc2CParams, typesize),
            get::<i32>(sc, l.typesize),
        );
        put(
            cp,
            offset_of!(Blosc2CParams, blocksize),
            get::<i32>(sc, l.blocksize),
        );
        put(
            cp,
            offset_of!(Blosc2CParams, splitmode),
            i32::from(get::<u8>(sc, l.splitmode)),
        );
        put(
            cp,
            offset_of!(Blosc2CParams, filters),
            get::<[u8; 6]>(sc, l.filters),
        );
        put(cp, offset_of!(Blosc2CParams, nthreads), 1i16);
        *out = cp;
    }
    0
}
unsafe extern "C" fn fake_get_dparams(sc: *mut c_void, out: *mut *mut c_void) -> c_int {
    unsafe {
        let dp = libc::calloc(1, 40);
        put(dp, 0, 1i16);
        put(dp, 8, sc);
        *out = dp;
    }
    0
}

fn fake_api() -> Blosc2Api {
    Blosc2Api {
        get_version_string: fake_version,
        init: fake_init,
        schunk_new: fake_schunk_new,
        schunk_free: fake_schunk_free,
        meta_add: fake_meta_add,
        vlmeta_add: fake_vlmeta_add,
        schunk_get_cparams: fake_get_cparams,
        schunk_get_dparams: fake_get_dparams,
        free: libc::free,
        usable_size: libc::malloc_usable_size,
    }
}

fn probe_fake(layout: FakeLayout, fault: Fault) -> Result<ProbedLayout, String> {
    fake(|f| {
        f.layout = layout;
        f.fault = fault;
        f.calls = 0;
    });
    // SAFETY: the fake functions behave as c-blosc2's (or break in the ways under test)
    // on memory from the C allocator.
    unsafe { probe::probe_schunk_layout(&fake_api()) }
}

/// An SChunk of `layout` (a fake's) with a `vq` metalayer and a blockshape, read in `read`.
fn read_fake_schunk(layout: FakeLayout, read: &SchunkLayout) -> abi::SchunkView<'static> {
    let meta = Box::leak(Box::new(Blosc2Metalayer {
        name: c"vq".as_ptr(),
        content: b"codebook".as_ptr(),
        content_len: 8,
    }));
    let blockshape: &'static [i64; 3] = Box::leak(Box::new([1, 64, 64]));
    let sc = Box::leak(vec![0u64; layout.size / 8 + 1].into_boxed_slice()).as_mut_ptr();
    unsafe {
        let sc = sc.cast::<c_void>();
        put(sc, layout.typesize, 4i32);
        put(sc, layout.metalayers, meta as *const Blosc2Metalayer);
        put(sc, layout.nmetalayers, 1u16);
        put(sc, layout.ndim, 3i8);
        put(sc, layout.blockshape, blockshape.as_ptr());
        abi::read_schunk_as(sc, read).unwrap()
    }
}

#[test]
fn probing_a_3x_layout_gives_the_tables_offsets_and_reads_blockshape() {
    let probed = probe_fake(FAKE_V3, Fault::None).unwrap();
    assert_same_offsets(&probed, &SCHUNK_LAYOUT_V3);
    assert_eq!(probed.change_tick, Some(65832));
    assert!(probed.blockshape_bracketed, "{probed:?}");
    let layout = probed.schunk_layout("probed");
    assert!(layout.reads_blockshape);
    let view = read_fake_schunk(FAKE_V3, &layout);
    assert_eq!(view.codebook, Some(&b"codebook"[..]));
    assert_eq!(view.blockshape, Some(vec![1, 64, 64]));
    assert_eq!(view.typesize, 4);
}

#[test]
fn probing_a_future_layout_learns_its_offsets() {
    let future = fake_future();
    let probed = probe_fake(future, Fault::None).unwrap();
    assert_eq!(probed.version, "9.1.0");
    assert_eq!(
        (probed.typesize, probed.metalayers, probed.nmetalayers),
        (8, future.metalayers, future.nmetalayers)
    );
    assert_eq!(
        (probed.ndim, probed.blockshape),
        (future.ndim, future.blockshape)
    );
    assert!(probed.blockshape_bracketed);
    let view = read_fake_schunk(future, &probed.schunk_layout("probed"));
    assert_eq!(view.codebook, Some(&b"codebook"[..]));
    assert_eq!(view.blockshape, Some(vec![1, 64, 64]));
    // The table's 3.x layout does not fit this SChunk: refused, not misread.
    let sc = vec![0u64; future.size / 8 + 1];
    let mut sc = sc;
    unsafe {
        let base = sc.as_mut_ptr().cast::<c_void>();
        put(base, future.metalayers, 0x1000usize);
        put(base, future.nmetalayers, 1u16);
        assert!(abi::read_schunk_as(base, &SCHUNK_LAYOUT_V3).is_err());
    }
}

#[test]
fn a_changed_tail_is_learned_without_blockshape() {
    // An 8-byte field inserted before ndim: the derived ndim/blockshape are not bracketed by
    // change_tick, so the learned layout reads the metalayers and no blockshape.
    let shifted = FakeLayout {
        size: FAKE_V3.size + 8,
        ndim: FAKE_V3.ndim + 8,
        blockshape: FAKE_V3.blockshape + 8,
        change_tick: Some(65832 + 8),
        ..FAKE_V3
    };
    let probed = probe_fake(shifted, Fault::None).unwrap();
    assert!(!probed.blockshape_bracketed, "{probed:?}");
    let layout = probed.schunk_layout("probed");
    assert!(!layout.reads_blockshape);
    let view = read_fake_schunk(shifted, &layout);
    assert_eq!(view.codebook, Some(&b"codebook"[..]));
    assert_eq!(view.blockshape, None);
}

#[test]
fn broken_c_blosc2s_fail_the_probe_cleanly() {
    for (fault, expected) in [
        (Fault::NoSchunk, "blosc2_schunk_new returned NULL"),
        (Fault::GarbageUnchanged, "turned 0 pointer-sized fields"),
        (Fault::GarbageScribbled, "turned 0 pointer-sized fields"),
        (Fault::WildPointer, "does not point to a blosc2_metalayer"),
        (
            Fault::UnreadablePointer,
            "does not point to a blosc2_metalayer",
        ),
        (Fault::WrongName, "does not point to a blosc2_metalayer"),
        (Fault::TwoSlots, "turned 2 pointer-sized fields"),
        (Fault::CountElsewhere, "not right after a table of 16 slots"),
        (Fault::CParamsShifted, "does not hold the SChunk's address"),
    ] {
        for layout in [FAKE_V3, fake_future()] {
            let err = probe_fake(layout, fault).unwrap_err();
            assert!(err.contains(expected), "{fault:?}: {err}");
        }
    }
}

#[test]
fn an_unknown_version_without_a_shared_c_blosc2_is_refused_as_before() {
    if std::env::var_os("BLOSC2_VQ_TEST_LIBBLOSC2").is_some() {
        return; // a c-blosc2 is loaded in this process then (see below)
    }
    // This binary links c-blosc2 statically and hides it: nothing to learn from.
    let err = host::set_host_blosc2_version("3.9.1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("c-blosc2 3.9.1 is not supported"), "{err}");
    assert!(err.contains(SUPPORTED_BLOSC2), "{err}");
    assert!(err.contains("no shared c-blosc2"), "{err}");
    assert!(host::probe_loaded_blosc2_layout().is_none());
}

/// With `BLOSC2_VQ_TEST_LIBBLOSC2=/path/to/libblosc2.so`: loads it as python-blosc2's is
/// loaded (RTLD_LOCAL), probes it through the plugin's own lookup, compares with the table
/// when its version is in it, and declares its version. Prints one `probe:` line.
#[test]
fn a_loaded_libblosc2_is_probed_through_the_plugins_lookup() {
    let Some(path) = std::env::var_os("BLOSC2_VQ_TEST_LIBBLOSC2") else {
        return;
    };
    let c_path = std::ffi::CString::new(path.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: loading a c-blosc2 runs no code of ours; the handle stays open.
    let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!handle.is_null(), "cannot load {path:?}");
    let (label, outcome) = host::probe_loaded_blosc2_layout().expect("found");
    let probed = outcome.unwrap_or_else(|e| panic!("{label}: {e}"));
    let version = Blosc2Version::parse(&probed.version).unwrap();
    let table = match version.schunk_layout() {
        Ok(table) => {
            assert_same_offsets(&probed, table);
            // 3.2 and later have change_tick, which brackets ndim and blockshape.
            assert_eq!(
                probed.blockshape_bracketed,
                (version.major, version.minor) >= (3, 2),
                "{probed:?}"
            );
            format!("agrees with the table ({})", table.name)
        }
        Err(_) => "not in the table".to_string(),
    };
    host::set_host_blosc2_version(&probed.version).unwrap();
    let layout = host::host_schunk_layout().unwrap();
    assert_eq!(
        (layout.typesize, layout.metalayers, layout.nmetalayers),
        (probed.typesize, probed.metalayers, probed.nmetalayers)
    );
    println!(
        "probe: c-blosc2 {version} ({label}): typesize {} metalayers {} nmetalayers {} ndim {} \
         blockshape {} read {}; {table}",
        probed.typesize,
        probed.metalayers,
        probed.nmetalayers,
        probed.ndim,
        probed.blockshape,
        probed.blockshape_bracketed
    );
}

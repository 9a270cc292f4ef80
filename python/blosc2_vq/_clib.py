"""ctypes bindings to libblosc2_vq.so (the functions declared in include/blosc2_vq.h)."""
import ctypes
import os

LIBPATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libblosc2_vq.so")

MODEL_FUZZY_CMEANS = 1
MODEL_ARCHETYPAL = 2
MODEL_KMEANS = 3
MODEL_RESIDUAL = 4
MODEL_SCALAR = 5
SCALAR_UNIFORM = 0
SCALAR_QUANTILE = 1
SCALAR_LLOYD_MAX = 2
METRIC_EUCLIDEAN = 0
METRIC_COSINE = 1
DTYPE_FLOAT32 = 0
DTYPE_FLOAT64 = 1


# The two structures mirror include/blosc2_vq.h field for field (same order, same C types):
# the library writes whole structs, so a missing field here means it writes past our buffer.
# python/tests/test_train_options.py compiles the header and compares sizes and offsets.


class TrainParams(ctypes.Structure):
    """blosc2_vq_train_params."""

    _fields_ = [
        ("model", ctypes.c_int32),
        ("n_prototypes", ctypes.c_int32),
        ("tile_ndim", ctypes.c_int32),
        ("tile_shape", ctypes.c_int32 * 3),
        ("n_samples", ctypes.c_int64),
        ("seed", ctypes.c_uint64),
        ("max_iter", ctypes.c_int32),
        ("tol", ctypes.c_double),
        ("fuzzifier", ctypes.c_double),
        ("metric", ctypes.c_int32),
        ("n_init", ctypes.c_int32),
        ("weight_bits", ctypes.c_int32),
        ("n_stages", ctypes.c_int32),
        ("mean_bits", ctypes.c_int32),
        ("scalar_method", ctypes.c_int32),
        ("scalar_bits", ctypes.c_int32),
        ("kept_weights", ctypes.c_int32),
        ("log10_floor", ctypes.c_double),
        ("beam", ctypes.c_int32),
        ("max_error", ctypes.c_double),
    ]


class CodebookInfo(ctypes.Structure):
    """blosc2_vq_codebook_info."""

    _fields_ = [
        ("format_version", ctypes.c_int32),
        ("model", ctypes.c_int32),
        ("metric", ctypes.c_int32),
        ("fuzzifier", ctypes.c_double),
        ("n_prototypes", ctypes.c_int32),
        ("n_features", ctypes.c_int32),
        ("tile_ndim", ctypes.c_int32),
        ("tile_shape", ctypes.c_int32 * 3),
        ("weight_bits", ctypes.c_int32),
        ("fingerprint", ctypes.c_uint64),
        ("n_samples", ctypes.c_int64),
        ("iterations", ctypes.c_int32),
        ("loss", ctypes.c_double),
        ("n_stages", ctypes.c_int32),
        ("mean_bits", ctypes.c_int32),
        ("scalar_method", ctypes.c_int32),
        ("kept_weights", ctypes.c_int32),
        ("log10_floor", ctypes.c_double),
        ("beam", ctypes.c_int32),
        ("max_error", ctypes.c_double),
        ("prototype_bits", ctypes.c_int32),
    ]


_lib = None


def lib():
    """The loaded library (loaded on first use, so that importing prints and costs nothing)."""
    global _lib
    if _lib is None:
        if not os.path.exists(LIBPATH):
            raise ImportError(f"{LIBPATH} is missing: reinstall blosc2-vq")
        l = ctypes.CDLL(LIBPATH)
        u8p = ctypes.POINTER(ctypes.c_uint8)
        dp = ctypes.POINTER(ctypes.c_double)
        l.blosc2_vq_train_params_init.argtypes = [ctypes.POINTER(TrainParams), ctypes.c_int32]
        l.blosc2_vq_train_params_init.restype = ctypes.c_int
        l.blosc2_vq_codebook_train.argtypes = [
            ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_int64), ctypes.c_int32,
            ctypes.POINTER(TrainParams), ctypes.POINTER(u8p), ctypes.POINTER(ctypes.c_int64),
        ]
        l.blosc2_vq_codebook_train.restype = ctypes.c_int
        l.blosc2_vq_free.argtypes = [ctypes.c_void_p]
        l.blosc2_vq_free.restype = None
        l.blosc2_vq_last_error_message.argtypes = []
        l.blosc2_vq_last_error_message.restype = ctypes.c_char_p
        l.blosc2_vq_last_codec_error.argtypes = [ctypes.c_char_p, ctypes.c_int64]
        l.blosc2_vq_last_codec_error.restype = ctypes.c_int64
        l.blosc2_vq_codec_error_count.argtypes = []
        l.blosc2_vq_codec_error_count.restype = ctypes.c_uint64
        l.blosc2_vq_codebook_inspect.argtypes = [ctypes.c_char_p, ctypes.c_int64, ctypes.POINTER(CodebookInfo)]
        l.blosc2_vq_codebook_inspect.restype = ctypes.c_int
        l.blosc2_vq_codebook_arrays.argtypes = [ctypes.c_char_p, ctypes.c_int64, dp, dp, dp]
        l.blosc2_vq_codebook_arrays.restype = ctypes.c_int
        l.blosc2_vq_codebook_with_max_error.argtypes = [
            ctypes.c_char_p, ctypes.c_int64, ctypes.c_double, ctypes.POINTER(u8p), ctypes.POINTER(ctypes.c_int64),
        ]
        l.blosc2_vq_codebook_with_max_error.restype = ctypes.c_int
        l.blosc2_vq_codebook_with_prototype_bits.argtypes = [
            ctypes.c_char_p, ctypes.c_int64, ctypes.c_int32, ctypes.POINTER(u8p), ctypes.POINTER(ctypes.c_int64),
        ]
        l.blosc2_vq_codebook_with_prototype_bits.restype = ctypes.c_int
        _lib = l
    return _lib


def last_error_message():
    """The calling thread's last error from the library."""
    return lib().blosc2_vq_last_error_message().decode("utf-8", "replace")


def codec_error_count():
    """How many encoder/decoder errors the process has seen so far, on any thread. Read it
    before a compression: if it has not grown after a failure, `last_codec_error` is an
    older, unrelated message (the library never clears it)."""
    return int(lib().blosc2_vq_codec_error_count())


def last_codec_error():
    """The most recent encoder/decoder error on any thread ('' if none). It is never cleared:
    compare `codec_error_count` before and after a call to know whether it is that call's."""
    l = lib()
    n = l.blosc2_vq_last_codec_error(None, 0)
    buf = ctypes.create_string_buffer(int(n) + 1)
    l.blosc2_vq_last_codec_error(buf, len(buf))
    return buf.value.decode("utf-8", "replace")

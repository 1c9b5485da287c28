#!/bin/sh
# Builds mediasoup's C++ worker offline against Debian's libraries (Debian 12).
# Run by scripts/mediasoup/install.mjs, which installs the apt packages first,
# holds the build lock, shows progress and caches the result; run it directly
# only to debug the recipe.
#
# Usage: build-worker.sh <node_modules/mediasoup dir> <scratch build dir> <output binary path>
#
# Needs (apt): meson ninja-build pkg-config g++ libssl-dev libuv1-dev
#   libsrtp2-dev libusrsctp-dev libabsl-dev flatbuffers-compiler libflatbuffers-dev
# (the worker links the libraries dynamically, so they must stay installed).
#
# What differs from mediasoup's own build (see /work/shared/notes/mediasoup-offline-build.md):
#   1. meson wrap subprojects (downloaded from the internet) are replaced by tiny
#      local subprojects wrapping Debian's libraries through pkg-config;
#   2. mediasoup >= 3.16 calls the libsrtp 3 API; Debian has libsrtp 2.5, so a
#      C++ compatibility <srtp.h> maps those calls onto the v2 functions;
#   3. meson_version lowered from >= 1.1.0 to >= 1.0.0 (Debian ships 1.0.1);
#   4. -Dms_disable_liburing=true (Debian's liburing 2.3 is too old);
#   5. flatbuffers-generator is built before mediasoup-worker;
#   6. bug fix in src/RTC/DtlsTransport.cpp (BIO callback bit test), without
#      which the worker segfaults on the first DTLS ClientHello.
# node_modules stays untouched: the sources are copied into the scratch dir.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 <mediasoup package dir> <build dir> <output binary>" >&2; exit 2; }
PKG="$(cd "$1" && pwd)"
B="$2"
OUT="$3"
VER="$(node -p "require('$PKG/package.json').version")"
[ "$VER" = "3.19.3" ] || echo "warning: recipe tested with mediasoup 3.19.3, found $VER" >&2

echo "== copying worker sources of mediasoup $VER into $B"
rm -rf "$B"; mkdir -p "$B"
cp -a "$PKG/worker" "$B/worker"
W="$B/worker"
S="$W/subprojects"
rm -rf "$W/out" "$W/pip_invoke" "$W/prebuild"
rm -f "$S"/*.wrap

echo "== replacing meson wrap subprojects with Debian libraries"
# 1) Replace meson wrap subprojects (downloaded from the internet) with tiny
#    local subprojects wrapping Debian's libraries via pkg-config.
mk() { # mk <name> ; reads meson.build body from stdin
  mkdir -p "$S/$1"
  echo 'int mediasoup_shim_'"$(echo "$1" | tr -c 'a-z0-9\n' _)"'_unused = 0;' > "$S/$1/empty.c"
  cat > "$S/$1/meson.build"
}
opts() { cat > "$S/$1/meson_options.txt"; }

mk openssl <<'EOF'
project('openssl', 'c')
openssl_dep = dependency('openssl', method: 'pkg-config')
libssl_dep = dependency('libssl', method: 'pkg-config')
libcrypto_dep = dependency('libcrypto', method: 'pkg-config')
libssl_lib = static_library('shim_ssl', 'empty.c')
libcrypto_lib = static_library('shim_crypto', 'empty.c')
EOF

mk libuv <<'EOF'
project('libuv', 'c')
libuv_dep = dependency('libuv', method: 'pkg-config')
libuv = static_library('shim_uv', 'empty.c')
EOF
opts libuv <<'EOF'
option('build_tests', type: 'boolean', value: false)
option('build_benchmarks', type: 'boolean', value: false)
EOF

# mediasoup >= 3.16 wants its libsrtp 3 fork; Debian 12 has libsrtp 2.5.
for n in libsrtp3; do
mk $n <<EOF
project('$n', 'c')
${n}_dep = declare_dependency(
  dependencies: dependency('libsrtp2', method: 'pkg-config'),
  include_directories: include_directories('include'),
)
$n = static_library('shim_$n', 'empty.c')
EOF
mkdir -p "$S/$n/include"
cat > "$S/$n/include/srtp.h" <<'EOF'
/* <srtp.h> for mediasoup built against Debian's libsrtp 2.5: the real v2
 * header plus C++ overloads with the libsrtp 3 signatures mediasoup >= 3.16
 * calls (out-of-place, size_t lengths). */
#ifndef MS_SHIM_SRTP_H
#define MS_SHIM_SRTP_H
#include <srtp2/srtp.h>
#ifdef __cplusplus
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <climits>
static constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
static constexpr srtp_err_status_t srtp_err_status_cryptex_err = static_cast<srtp_err_status_t>(29);
inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return srtp_remove_stream(session, ssrc);
}
using ms_shim_srtp_v2_fn = srtp_err_status_t (*)(srtp_t, void*, int*);
inline srtp_err_status_t ms_shim_srtp_call(
  ms_shim_srtp_v2_fn fn, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen, size_t extra)
{
	if (inLen > INT_MAX || *outLen < inLen + extra)
		return srtp_err_status_buffer_small;
	if (out != in)
		std::memmove(out, in, inLen);
	int len = static_cast<int>(inLen);
	const srtp_err_status_t err = fn(ctx, out, &len);
	if (err == srtp_err_status_ok)
		*outLen = static_cast<size_t>(len);
	return err;
}
inline srtp_err_status_t srtp_protect(
  srtp_t ctx, const uint8_t* rtp, size_t rtpLen, uint8_t* srtp, size_t* srtpLen, size_t /*mkiIndex*/)
{
	return ms_shim_srtp_call(static_cast<ms_shim_srtp_v2_fn>(&srtp_protect), ctx, rtp, rtpLen, srtp, srtpLen, SRTP_MAX_TRAILER_LEN);
}
inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtpLen, uint8_t* rtp, size_t* rtpLen)
{
	return ms_shim_srtp_call(static_cast<ms_shim_srtp_v2_fn>(&srtp_unprotect), ctx, srtp, srtpLen, rtp, rtpLen, 0);
}
inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, size_t rtcpLen, uint8_t* srtcp, size_t* srtcpLen, size_t /*mkiIndex*/)
{
	return ms_shim_srtp_call(static_cast<ms_shim_srtp_v2_fn>(&srtp_protect_rtcp), ctx, rtcp, rtcpLen, srtcp, srtcpLen, SRTP_MAX_TRAILER_LEN + 4);
}
inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcpLen, uint8_t* rtcp, size_t* rtcpLen)
{
	return ms_shim_srtp_call(static_cast<ms_shim_srtp_v2_fn>(&srtp_unprotect_rtcp), ctx, srtcp, srtcpLen, rtcp, rtcpLen, 0);
}
#endif
#endif
EOF
opts $n <<'EOF'
option('crypto-library', type: 'string', value: 'openssl')
option('crypto-library-kdf', type: 'string', value: 'disabled')
option('tests', type: 'string', value: 'disabled')
option('doc', type: 'string', value: 'disabled')
EOF
done

mk usrsctp <<'EOF'
project('usrsctp', 'c')
usrsctp_dep = dependency('usrsctp', method: 'pkg-config')
usrsctp = static_library('shim_usrsctp', 'empty.c')
EOF
opts usrsctp <<'EOF'
option('sctp_build_programs', type: 'boolean', value: false)
EOF

mk abseil-cpp <<'EOF'
project('abseil-cpp', 'c')
m = 'pkg-config'
absl_container_dep = declare_dependency(dependencies: [
  dependency('absl_flat_hash_map', method: m),
  dependency('absl_flat_hash_set', method: m),
  dependency('absl_node_hash_map', method: m),
  dependency('absl_btree', method: m),
  dependency('absl_inlined_vector', method: m),
])
absl_strings_dep = dependency('absl_strings', method: m)
absl_types_dep = declare_dependency(dependencies: [
  dependency('absl_optional', method: m),
  dependency('absl_variant', method: m),
  dependency('absl_memory', method: m),
])
absl_container_lib = static_library('shim_absl', 'empty.c')
EOF

mk flatbuffers <<'EOF'
project('flatbuffers', 'c')
flatbuffers_dep = dependency('flatbuffers', method: 'pkg-config')
flatbuffers_lib = static_library('shim_flatbuffers', 'empty.c')
EOF


# Only used by the (not built by default) test executables.
mk catch2 <<'EOF'
project('catch2', 'c')
catch2_dep = declare_dependency()
catch2_with_main_dep = declare_dependency()
EOF


# 2) mediasoup asks for meson >= 1.1.0; Debian 12 ships 1.0.1 (works).
sed -i "s/meson_version: '>= 1.1.0'/meson_version: '>= 1.0.0'/" "$W/meson.build"

# 3) Bug fix: the DTLS write-BIO callback returns 1 for every post-operation
#    callback because it tests `operationType == BIO_CB_RETURN` instead of a bit
#    test. Debian's OpenSSL is built with KTLS, so BIO_get_ktls_send() then
#    reads 1, libssl skips allocating its write buffer and the worker SIGSEGVs
#    on the first DTLS handshake message (BIO_get_ktls_send is a constant 0
#    only in OpenSSL builds with OPENSSL_NO_KTLS).
echo "== patching src/RTC/DtlsTransport.cpp (BIO_CB_RETURN bit test)"
sed -i 's/(operationType == BIO_CB_RETURN)/((operationType \& BIO_CB_RETURN) != 0)/' "$W/src/RTC/DtlsTransport.cpp"
grep -q 'BIO_CB_RETURN) != 0' "$W/src/RTC/DtlsTransport.cpp" || {
  echo "DtlsTransport.cpp patch did not apply (source changed?)" >&2; exit 1; }

# 4) Configure and build (liburing disabled: Debian 12 has 2.3, code needs >= 2.4).
cd "$W"
echo "== meson setup"
meson setup --buildtype=release -Db_ndebug=true -Dms_disable_liburing=true \
  --wrap-mode=nodownload out/Release/build
export NINJA_STATUS='[%f/%t] '
echo "== ninja: flatbuffers-generator"
meson compile -C out/Release/build flatbuffers-generator   # FBS headers first
echo "== ninja: mediasoup-worker"
ninja -C out/Release/build mediasoup-worker
mkdir -p "$(dirname "$OUT")"
install -m 0755 out/Release/build/mediasoup-worker "$OUT"
echo "== built $OUT"

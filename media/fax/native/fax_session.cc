// FaxSession: one SpanDSP audio fax (fax_state_t: T.30 over V.21 / V.27ter / V.29 / V.17) as a
// JavaScript class. It only moves samples in and out and reports what T.30 did; the 20 ms framing,
// files and call handling live in TypeScript (media/fax/FaxEngine.ts).
//
// Defensive on purpose, because a crash here takes the whole media node down:
// - every JS argument is checked before it reaches SpanDSP, and buffers are bounded (kMaxSamples);
// - SpanDSP's callbacks run inside fax_rx/fax_tx/t30_terminate on this thread; they only record
//   events in C++ memory (never call into JS, never throw), and JS drains them with poll();
// - the native state is freed exactly once: by close(), or by the destructor when the object is
//   garbage-collected without close().
#include <napi.h>

#include <spandsp.h>
#include <spandsp/version.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

// One call of rx()/tx() handles at most one second of 8 kHz audio (a frame is 160 samples).
constexpr uint32_t kMaxSamples = 8000;
// Events kept until poll(); a caller that never polls cannot grow memory without bound.
constexpr size_t kMaxEvents = 256;
// T.30 identities (TSI/CSI) are at most 20 characters (ITU-T T.30 5.3.6.2.4).
constexpr size_t kMaxIdent = 20;
constexpr size_t kMaxPath = 4096;

// What T.30 knew at one moment: copied out of SpanDSP so it survives fax_free().
struct Snapshot {
  int bitRate = 0;
  bool ecm = false;
  int pagesTx = 0;
  int pagesRx = 0;
  int pagesInFile = -1;
  int width = 0;
  int length = 0;
  int xResolution = 0;
  int yResolution = 0;
  int encoding = 0;
  int badRows = 0;
  int ecmRetries = 0;
  std::string remoteIdent;
};

enum class EventKind { Negotiated, Page, Complete };

struct Event {
  EventKind kind;
  int code;  // phase B: the T.30 frame type; phase D: the frame type; phase E: the completion code
  Snapshot snapshot;
};

Napi::Object SnapshotToJs(Napi::Env env, const Snapshot& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("bitRate", s.bitRate);
  o.Set("ecm", s.ecm);
  o.Set("pagesSent", s.pagesTx);
  o.Set("pagesReceived", s.pagesRx);
  o.Set("pagesInFile", s.pagesInFile);
  o.Set("width", s.width);
  o.Set("length", s.length);
  o.Set("xResolution", s.xResolution);
  o.Set("yResolution", s.yResolution);
  o.Set("encoding", s.encoding);
  o.Set("badRows", s.badRows);
  o.Set("ecmRetries", s.ecmRetries);
  o.Set("remoteIdent", s.remoteIdent);
  return o;
}

// A string option: absent (undefined/null) → false; present → must be a string within bounds.
bool StringOption(const Napi::Object& opts, const char* name, size_t maxLen, std::string& out) {
  Napi::Value v = opts.Get(name);
  if (v.IsUndefined() || v.IsNull()) return false;
  if (!v.IsString()) throw Napi::TypeError::New(opts.Env(), std::string(name) + " must be a string");
  out = v.As<Napi::String>().Utf8Value();
  if (out.empty() || out.size() > maxLen || out.find('\0') != std::string::npos) {
    throw Napi::RangeError::New(opts.Env(), std::string(name) + " must be 1.." + std::to_string(maxLen) +
                                                " characters without NUL");
  }
  return true;
}

bool BoolOption(const Napi::Object& opts, const char* name, bool fallback) {
  Napi::Value v = opts.Get(name);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(opts.Env(), std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

class FaxSession : public Napi::ObjectWrap<FaxSession> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FaxSession",
                       {
                           InstanceMethod<&FaxSession::Rx>("rx"),
                           InstanceMethod<&FaxSession::Tx>("tx"),
                           InstanceMethod<&FaxSession::Fillin>("fillin"),
                           InstanceMethod<&FaxSession::Poll>("poll"),
                           InstanceMethod<&FaxSession::Stats>("stats"),
                           InstanceMethod<&FaxSession::Terminate>("terminate"),
                           InstanceMethod<&FaxSession::Close>("close"),
                           InstanceAccessor<&FaxSession::Active>("active"),
                           InstanceAccessor<&FaxSession::Closed>("closed"),
                       });
  }

  explicit FaxSession(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FaxSession>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      throw Napi::TypeError::New(env, "new FaxSession({ calling, transmitFile?, receiveFile?, ident?, ecm? })");
    }
    Napi::Object opts = info[0].As<Napi::Object>();
    Napi::Value calling = opts.Get("calling");
    if (!calling.IsBoolean()) throw Napi::TypeError::New(env, "calling must be a boolean");
    std::string transmitFile, receiveFile, ident;
    bool transmits = StringOption(opts, "transmitFile", kMaxPath, transmitFile);
    bool receives = StringOption(opts, "receiveFile", kMaxPath, receiveFile);
    if (!transmits && !receives) throw Napi::TypeError::New(env, "give transmitFile or receiveFile (or both)");
    if (StringOption(opts, "ident", kMaxIdent, ident)) {
      for (unsigned char c : ident) {
        if (c < 0x20 || c > 0x7e) throw Napi::RangeError::New(env, "ident must be printable ASCII");
      }
    }
    bool ecm = BoolOption(opts, "ecm", true);
    int logLevel = 0;
    Napi::Value level = opts.Get("logLevel");
    if (!level.IsUndefined() && !level.IsNull()) {
      if (!level.IsNumber()) throw Napi::TypeError::New(env, "logLevel must be a number");
      logLevel = std::clamp(level.As<Napi::Number>().Int32Value(), 0, static_cast<int>(SPAN_LOG_DEBUG_3));
    }

    // Everything that can throw happens before fax_init: a constructor that throws later would
    // leak the state (no destructor runs for a half-built object).
    rxBuffer_.resize(kMaxSamples);
    logTag_ = ident.empty() ? (calling.As<Napi::Boolean>().Value() ? "caller" : "answerer") : ident;

    fax_ = fax_init(nullptr, calling.As<Napi::Boolean>().Value() ? 1 : 0);
    if (fax_ == nullptr) throw Napi::Error::New(env, "fax_init failed (out of memory?)");
    // A call carries audio every 20 ms, so the modem sends silence rather than nothing when idle.
    fax_set_transmit_on_idle(fax_, 1);
    t30_state_t* t30 = fax_get_t30_state(fax_);
    if (!ident.empty()) t30_set_tx_ident(t30, ident.c_str());
    t30_set_ecm_capability(t30, ecm ? 1 : 0);
    // T.6 needs ECM; SpanDSP only offers it when ECM is on.
    t30_set_supported_compressions(t30, T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION |
                                             (ecm ? T30_SUPPORT_T6_COMPRESSION : 0));
    if (transmits) t30_set_tx_file(t30, transmitFile.c_str(), -1, -1);
    if (receives) t30_set_rx_file(t30, receiveFile.c_str(), -1);
    t30_set_phase_b_handler(t30, OnPhaseB, this);
    t30_set_phase_d_handler(t30, OnPhaseD, this);
    t30_set_phase_e_handler(t30, OnPhaseE, this);
    if (logLevel > 0) {
      int flags = SPAN_LOG_SHOW_TAG | SPAN_LOG_SHOW_PROTOCOL | logLevel;
      span_log_set_level(fax_get_logging_state(fax_), flags);
      span_log_set_level(t30_get_logging_state(t30), flags);
      span_log_set_tag(fax_get_logging_state(fax_), logTag_.c_str());
      span_log_set_tag(t30_get_logging_state(t30), logTag_.c_str());
    }
  }

  ~FaxSession() override { Release(); }

 private:
  // rx(samples: Int16Array): number — audio heard from the line; returns the samples SpanDSP left
  // unprocessed (non-zero only once the fax call has ended).
  Napi::Value Rx(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int16_array) {
      throw Napi::TypeError::New(env, "rx(samples) takes an Int16Array");
    }
    Napi::Int16Array samples = info[0].As<Napi::Int16Array>();
    size_t len = samples.ElementLength();
    if (len > kMaxSamples) throw Napi::RangeError::New(env, "rx: at most 8000 samples per call");
    // fax_rx rewrites its input (DC restore), so it gets a copy, never the caller's array.
    std::copy_n(samples.Data(), len, rxBuffer_.data());
    int left = fax_rx(fax_, rxBuffer_.data(), static_cast<int>(len));
    return Napi::Number::New(env, left);
  }

  // fillin(count: number): number — `count` samples that never arrived (a lost packet): SpanDSP
  // keeps its timers and modems in step without being fed invented audio.
  Napi::Value Fillin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    int count = SampleCount(info, "fillin");
    return Napi::Number::New(env, count > 0 ? fax_rx_fillin(fax_, count) : 0);
  }

  // tx(count: number): Int16Array — the next `count` samples to send (silence when idle).
  Napi::Value Tx(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    size_t n = static_cast<size_t>(SampleCount(info, "tx"));
    Napi::Int16Array out = Napi::Int16Array::New(env, n);  // zeroed: what fax_tx leaves is silence
    if (n > 0) fax_tx(fax_, out.Data(), static_cast<int>(n));
    return out;
  }

  // poll(): events since the last poll, oldest first.
  Napi::Value Poll(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array list = Napi::Array::New(env, events_.size());
    for (size_t i = 0; i < events_.size(); i++) {
      const Event& e = events_[i];
      Napi::Object o = Napi::Object::New(env);
      switch (e.kind) {
        case EventKind::Negotiated:
          o.Set("type", "negotiated");
          break;
        case EventKind::Page:
          o.Set("type", "page");
          break;
        case EventKind::Complete:
          o.Set("type", "complete");
          o.Set("success", e.code == T30_ERR_OK);
          o.Set("text", t30_completion_code_to_str(e.code));
          break;
      }
      o.Set("code", e.code);
      o.Set("stats", SnapshotToJs(env, e.snapshot));
      list.Set(static_cast<uint32_t>(i), o);
    }
    events_.clear();
    return list;
  }

  // stats(): what T.30 knows now (after close, what it knew last).
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    if (fax_ != nullptr) last_ = Take();
    return SnapshotToJs(info.Env(), last_);
  }

  // terminate(): the call is gone (hang-up, timeout). T.30 ends at once and reports phase E, so
  // a partly received document is closed properly. A no-op once T.30 has finished.
  Napi::Value Terminate(const Napi::CallbackInfo& info) {
    if (fax_ != nullptr && !completed_) t30_terminate(fax_get_t30_state(fax_));
    return info.Env().Undefined();
  }

  // close(): terminate if still running, then free the native state. Idempotent.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (fax_ != nullptr && !completed_) t30_terminate(fax_get_t30_state(fax_));
    Release();
    return info.Env().Undefined();
  }

  // active: T.30 is still in a call (false once phase E has run or after close).
  Napi::Value Active(const Napi::CallbackInfo& info) {
    bool active = fax_ != nullptr && !completed_ && t30_call_active(fax_get_t30_state(fax_)) != 0;
    return Napi::Boolean::New(info.Env(), active);
  }

  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fax_ == nullptr); }

  // The sample count argument of tx()/fillin(): an integer 0..kMaxSamples.
  static int SampleCount(const Napi::CallbackInfo& info, const char* method) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      throw Napi::TypeError::New(env, std::string(method) + "(count) takes a number");
    }
    double count = info[0].As<Napi::Number>().DoubleValue();
    if (!(count >= 0 && count <= kMaxSamples) || count != static_cast<double>(static_cast<uint32_t>(count))) {
      throw Napi::RangeError::New(env, std::string(method) + ": count must be an integer 0..8000");
    }
    return static_cast<int>(count);
  }

  void RequireOpen(Napi::Env env) const {
    if (fax_ == nullptr) throw Napi::Error::New(env, "FaxSession is closed");
  }

  // fax_free = fax_release (closes the TIFF files, frees T.4 buffers) + freeing the state.
  void Release() {
    if (fax_ == nullptr) return;
    last_ = Take();
    fax_free(fax_);
    fax_ = nullptr;
  }

  Snapshot Take() const {
    Snapshot s;
    t30_state_t* t30 = fax_get_t30_state(fax_);
    t30_stats_t stats;
    t30_get_transfer_statistics(t30, &stats);
    s.bitRate = stats.bit_rate;
    s.ecm = stats.error_correcting_mode != 0;
    s.pagesTx = stats.pages_tx;
    s.pagesRx = stats.pages_rx;
    s.pagesInFile = stats.pages_in_file;
    s.width = stats.width;
    s.length = stats.length;
    s.xResolution = stats.x_resolution;
    s.yResolution = stats.y_resolution;
    s.encoding = stats.encoding;
    s.badRows = stats.bad_rows;
    s.ecmRetries = stats.error_correcting_mode_retries;
    const char* ident = t30_get_rx_ident(t30);
    if (ident != nullptr) s.remoteIdent.assign(ident, strnlen(ident, kMaxIdent + 1));
    return s;
  }

  // Called from inside SpanDSP: record only, never throw across its C frames.
  void Record(EventKind kind, int code) noexcept {
    try {
      if (kind == EventKind::Complete) completed_ = true;
      Event e{kind, code, Take()};
      last_ = e.snapshot;
      if (events_.size() >= kMaxEvents && kind != EventKind::Complete) return;
      events_.push_back(std::move(e));
    } catch (...) {
      // out of memory: the event is lost, completed_ still says the fax ended
    }
  }

  static int OnPhaseB(t30_state_t*, void* self, int result) {
    static_cast<FaxSession*>(self)->Record(EventKind::Negotiated, result);
    return T30_ERR_OK;
  }

  static int OnPhaseD(t30_state_t*, void* self, int result) {
    static_cast<FaxSession*>(self)->Record(EventKind::Page, result);
    return T30_ERR_OK;
  }

  static void OnPhaseE(t30_state_t*, void* self, int completion) {
    static_cast<FaxSession*>(self)->Record(EventKind::Complete, completion);
  }

  fax_state_t* fax_ = nullptr;
  bool completed_ = false;
  std::string logTag_;
  std::vector<int16_t> rxBuffer_;
  std::vector<Event> events_;
  Snapshot last_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("FaxSession", FaxSession::Define(env));
  exports.Set("spandspVersion", SPANDSP_RELEASE_DATETIME_STRING);
  exports.Set("samplesPerSecond", 8000);
  exports.Set("maxSamplesPerCall", kMaxSamples);
  return exports;
}

}  // namespace

NODE_API_MODULE(edgepbx_fax, Init)

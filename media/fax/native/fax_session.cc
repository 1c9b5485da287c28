// FaxSession: one SpanDSP audio fax (fax_state_t: T.30 over V.21 / V.27ter / V.29 / V.17) as a
// JavaScript class. It only moves samples in and out and reports what T.30 did; the 20 ms framing,
// files and call handling live in TypeScript (media/fax/FaxEngine.ts).
// T38Session: the same T.30 over T.38 (t38_terminal_state_t): IFP packets in and out as Buffers,
// a timer tick every 20 ms; UDPTL and the socket live in TypeScript (media/fax/udptl.ts).
//
// Defensive on purpose, because a crash here takes the whole media node down:
// - every JS argument is checked before it reaches SpanDSP, and buffers are bounded (kMaxSamples);
// - SpanDSP's callbacks run inside fax_rx/fax_tx/t38_*/t30_terminate on this thread; they only record
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

// What T.30 knows now, copied out of SpanDSP.
Snapshot TakeSnapshot(t30_state_t* t30) {
  Snapshot s;
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

// T.30's phase B/D/E reports, kept until poll(). Shared by both session classes.
struct EventLog {
  std::vector<Event> events;
  bool completed = false;
  Snapshot last;

  // Called from inside SpanDSP: record only, never throw across its C frames.
  void Record(EventKind kind, int code, t30_state_t* t30) noexcept {
    try {
      if (kind == EventKind::Complete) completed = true;
      Event e{kind, code, TakeSnapshot(t30)};
      last = e.snapshot;
      if (events.size() >= kMaxEvents && kind != EventKind::Complete) return;
      events.push_back(std::move(e));
    } catch (...) {
      // out of memory: the event is lost, completed still says the fax ended
    }
  }

  Napi::Array Drain(Napi::Env env) {
    Napi::Array list = Napi::Array::New(env, events.size());
    for (size_t i = 0; i < events.size(); i++) {
      const Event& e = events[i];
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
    events.clear();
    return list;
  }

  static int OnPhaseB(t30_state_t* t30, void* self, int result) {
    static_cast<EventLog*>(self)->Record(EventKind::Negotiated, result, t30);
    return T30_ERR_OK;
  }
  static int OnPhaseD(t30_state_t* t30, void* self, int result) {
    static_cast<EventLog*>(self)->Record(EventKind::Page, result, t30);
    return T30_ERR_OK;
  }
  static void OnPhaseE(t30_state_t* t30, void* self, int completion) {
    static_cast<EventLog*>(self)->Record(EventKind::Complete, completion, t30);
  }
};

// The options both sessions take, checked before any SpanDSP state exists.
struct T30Options {
  bool calling = false;
  bool transmits = false;
  bool receives = false;
  std::string transmitFile, receiveFile, ident;
  bool ecm = true;
  int logLevel = 0;
};

T30Options ParseT30Options(const Napi::CallbackInfo& info, const char* usage) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, usage);
  Napi::Object opts = info[0].As<Napi::Object>();
  T30Options o;
  Napi::Value calling = opts.Get("calling");
  if (!calling.IsBoolean()) throw Napi::TypeError::New(env, "calling must be a boolean");
  o.calling = calling.As<Napi::Boolean>().Value();
  o.transmits = StringOption(opts, "transmitFile", kMaxPath, o.transmitFile);
  o.receives = StringOption(opts, "receiveFile", kMaxPath, o.receiveFile);
  if (!o.transmits && !o.receives) throw Napi::TypeError::New(env, "give transmitFile or receiveFile (or both)");
  if (StringOption(opts, "ident", kMaxIdent, o.ident)) {
    for (unsigned char c : o.ident) {
      if (c < 0x20 || c > 0x7e) throw Napi::RangeError::New(env, "ident must be printable ASCII");
    }
  }
  o.ecm = BoolOption(opts, "ecm", true);
  Napi::Value level = opts.Get("logLevel");
  if (!level.IsUndefined() && !level.IsNull()) {
    if (!level.IsNumber()) throw Napi::TypeError::New(env, "logLevel must be a number");
    o.logLevel = std::clamp(level.As<Napi::Number>().Int32Value(), 0, static_cast<int>(SPAN_LOG_DEBUG_3));
  }
  return o;
}

// T.30 set up the same way for audio and T.38: identity, ECM, compressions, files, reports.
void ConfigureT30(t30_state_t* t30, const T30Options& o, EventLog* log) {
  if (!o.ident.empty()) t30_set_tx_ident(t30, o.ident.c_str());
  t30_set_ecm_capability(t30, o.ecm ? 1 : 0);
  // T.6 needs ECM; SpanDSP only offers it when ECM is on.
  t30_set_supported_compressions(t30, T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION |
                                          (o.ecm ? T30_SUPPORT_T6_COMPRESSION : 0));
  if (o.transmits) t30_set_tx_file(t30, o.transmitFile.c_str(), -1, -1);
  if (o.receives) t30_set_rx_file(t30, o.receiveFile.c_str(), -1);
  t30_set_phase_b_handler(t30, EventLog::OnPhaseB, log);
  t30_set_phase_d_handler(t30, EventLog::OnPhaseD, log);
  t30_set_phase_e_handler(t30, EventLog::OnPhaseE, log);
}

// The sample count argument of tx()/fillin()/tick(): an integer 0..kMaxSamples.
int SampleCount(const Napi::CallbackInfo& info, const char* method) {
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
    T30Options o =
        ParseT30Options(info, "new FaxSession({ calling, transmitFile?, receiveFile?, ident?, ecm? })");
    // Everything that can throw happens before fax_init: a constructor that throws later would
    // leak the state (no destructor runs for a half-built object).
    rxBuffer_.resize(kMaxSamples);
    logTag_ = o.ident.empty() ? (o.calling ? "caller" : "answerer") : o.ident;

    fax_ = fax_init(nullptr, o.calling ? 1 : 0);
    if (fax_ == nullptr) throw Napi::Error::New(env, "fax_init failed (out of memory?)");
    // A call carries audio every 20 ms, so the modem sends silence rather than nothing when idle.
    fax_set_transmit_on_idle(fax_, 1);
    t30_state_t* t30 = fax_get_t30_state(fax_);
    ConfigureT30(t30, o, &log_);
    if (o.logLevel > 0) {
      int flags = SPAN_LOG_SHOW_TAG | SPAN_LOG_SHOW_PROTOCOL | o.logLevel;
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
  Napi::Value Poll(const Napi::CallbackInfo& info) { return log_.Drain(info.Env()); }

  // stats(): what T.30 knows now (after close, what it knew last).
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    if (fax_ != nullptr) log_.last = TakeSnapshot(fax_get_t30_state(fax_));
    return SnapshotToJs(info.Env(), log_.last);
  }

  // terminate(): the call is gone (hang-up, timeout). T.30 ends at once and reports phase E, so
  // a partly received document is closed properly. A no-op once T.30 has finished.
  Napi::Value Terminate(const Napi::CallbackInfo& info) {
    if (fax_ != nullptr && !log_.completed) t30_terminate(fax_get_t30_state(fax_));
    return info.Env().Undefined();
  }

  // close(): terminate if still running, then free the native state. Idempotent.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (fax_ != nullptr && !log_.completed) t30_terminate(fax_get_t30_state(fax_));
    Release();
    return info.Env().Undefined();
  }

  // active: T.30 is still in a call (false once phase E has run or after close).
  Napi::Value Active(const Napi::CallbackInfo& info) {
    bool active = fax_ != nullptr && !log_.completed && t30_call_active(fax_get_t30_state(fax_)) != 0;
    return Napi::Boolean::New(info.Env(), active);
  }

  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fax_ == nullptr); }

  void RequireOpen(Napi::Env env) const {
    if (fax_ == nullptr) throw Napi::Error::New(env, "FaxSession is closed");
  }

  // fax_free = fax_release (closes the TIFF files, frees T.4 buffers) + freeing the state.
  void Release() {
    if (fax_ == nullptr) return;
    log_.last = TakeSnapshot(fax_get_t30_state(fax_));
    fax_free(fax_);
    fax_ = nullptr;
  }

  fax_state_t* fax_ = nullptr;
  EventLog log_;
  std::string logTag_;
  std::vector<int16_t> rxBuffer_;
};

// An IFP packet is small (an indicator is 1-2 bytes, data a few hundred); anything bigger is not
// T.38. SpanDSP's own receive buffer is T38_RX_BUF_LEN.
constexpr size_t kMaxIfp = 1024;
// IFP packets kept until packets(); a caller that never drains cannot grow memory without bound.
constexpr size_t kMaxPackets = 512;

class T38Session : public Napi::ObjectWrap<T38Session> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "T38Session",
                       {
                           InstanceMethod<&T38Session::Rx>("rx"),
                           InstanceMethod<&T38Session::Tick>("tick"),
                           InstanceMethod<&T38Session::Packets>("packets"),
                           InstanceMethod<&T38Session::Poll>("poll"),
                           InstanceMethod<&T38Session::Stats>("stats"),
                           InstanceMethod<&T38Session::Terminate>("terminate"),
                           InstanceMethod<&T38Session::Close>("close"),
                           InstanceAccessor<&T38Session::Active>("active"),
                           InstanceAccessor<&T38Session::Closed>("closed"),
                       });
  }

  explicit T38Session(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T38Session>(info) {
    Napi::Env env = info.Env();
    T30Options o = ParseT30Options(
        info, "new T38Session({ calling, transmitFile?, receiveFile?, ident?, ecm?, maxDatagram? })");
    int maxDatagram = 0;
    Napi::Value md = info[0].As<Napi::Object>().Get("maxDatagram");
    if (!md.IsUndefined() && !md.IsNull()) {
      if (!md.IsNumber()) throw Napi::TypeError::New(env, "maxDatagram must be a number");
      maxDatagram = std::clamp(md.As<Napi::Number>().Int32Value(), 0, static_cast<int>(kMaxIfp));
    }
    logTag_ = o.ident.empty() ? (o.calling ? "t38-caller" : "t38-answerer") : o.ident;
    packets_.reserve(16);

    t38_ = t38_terminal_init(nullptr, o.calling ? 1 : 0, OnTxPacket, this);
    if (t38_ == nullptr) throw Napi::Error::New(env, "t38_terminal_init failed (out of memory?)");
    t38_core_state_t* core = t38_terminal_get_t38_core_state(t38_);
    // UDPTL carries its own redundancy (media/fax/udptl.ts): every IFP is handed over once.
    for (int category = T38_PACKET_CATEGORY_INDICATOR; category <= T38_PACKET_CATEGORY_IMAGE_DATA_END; category++)
      t38_set_redundancy_control(core, category, 1);
    t38_set_data_rate_management_method(core, T38_DATA_RATE_MANAGEMENT_TRANSFERRED_TCF);
    if (maxDatagram > 0) t38_set_max_datagram_size(core, maxDatagram);
    t38_terminal_set_tep_mode(t38_, 0);
    t30_state_t* t30 = t38_terminal_get_t30_state(t38_);
    ConfigureT30(t30, o, &log_);
    if (o.logLevel > 0) {
      int flags = SPAN_LOG_SHOW_TAG | SPAN_LOG_SHOW_PROTOCOL | o.logLevel;
      span_log_set_level(t38_terminal_get_logging_state(t38_), flags);
      span_log_set_level(t38_core_get_logging_state(core), flags);
      span_log_set_level(t30_get_logging_state(t30), flags);
      span_log_set_tag(t38_terminal_get_logging_state(t38_), logTag_.c_str());
      span_log_set_tag(t38_core_get_logging_state(core), logTag_.c_str());
      span_log_set_tag(t30_get_logging_state(t30), logTag_.c_str());
    }
  }

  ~T38Session() override { Release(); }

 private:
  // rx(ifp: Buffer, seq: number): number — one IFP packet from the far end with its UDPTL
  // sequence number; SpanDSP skips repeats and notes gaps. Returns SpanDSP's result (0 OK, -1 a
  // packet it could not parse: dropped, never thrown).
  Napi::Value Rx(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber()) {
      throw Napi::TypeError::New(env, "rx(ifp: Buffer, seq: number)");
    }
    Napi::Buffer<uint8_t> ifp = info[0].As<Napi::Buffer<uint8_t>>();
    double seq = info[1].As<Napi::Number>().DoubleValue();
    if (!(seq >= 0 && seq <= 65535) || seq != static_cast<double>(static_cast<uint32_t>(seq))) {
      throw Napi::RangeError::New(env, "rx: seq must be an integer 0..65535");
    }
    size_t len = ifp.Length();
    if (len == 0 || len > kMaxIfp) return Napi::Number::New(env, -1);
    // A copy: SpanDSP must never see memory JS may move or change under it.
    rxBuffer_.assign(ifp.Data(), ifp.Data() + len);
    int result = t38_core_rx_ifp_packet(t38_terminal_get_t38_core_state(t38_), rxBuffer_.data(),
                                        static_cast<int>(len), static_cast<uint16_t>(seq));
    return Napi::Number::New(env, result);
  }

  // tick(samples: number): boolean — time went on by `samples` (8 kHz; 160 every 20 ms): T.38
  // sends what is due. True once T.30 has nothing more to do.
  Napi::Value Tick(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    int samples = SampleCount(info, "tick");
    return Napi::Boolean::New(env, t38_terminal_send_timeout(t38_, samples) != 0);
  }

  // packets(): IFP packets to send, oldest first (each a new Buffer).
  Napi::Value Packets(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array list = Napi::Array::New(env, packets_.size());
    for (size_t i = 0; i < packets_.size(); i++) {
      const std::vector<uint8_t>& p = packets_[i];
      list.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, p.data(), p.size()));
    }
    packets_.clear();
    return list;
  }

  Napi::Value Poll(const Napi::CallbackInfo& info) { return log_.Drain(info.Env()); }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    if (t38_ != nullptr) log_.last = TakeSnapshot(t38_terminal_get_t30_state(t38_));
    return SnapshotToJs(info.Env(), log_.last);
  }

  Napi::Value Terminate(const Napi::CallbackInfo& info) {
    if (t38_ != nullptr && !log_.completed) t30_terminate(t38_terminal_get_t30_state(t38_));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (t38_ != nullptr && !log_.completed) t30_terminate(t38_terminal_get_t30_state(t38_));
    Release();
    return info.Env().Undefined();
  }

  Napi::Value Active(const Napi::CallbackInfo& info) {
    bool active =
        t38_ != nullptr && !log_.completed && t30_call_active(t38_terminal_get_t30_state(t38_)) != 0;
    return Napi::Boolean::New(info.Env(), active);
  }

  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), t38_ == nullptr); }

  void RequireOpen(Napi::Env env) const {
    if (t38_ == nullptr) throw Napi::Error::New(env, "T38Session is closed");
  }

  void Release() {
    if (t38_ == nullptr) return;
    log_.last = TakeSnapshot(t38_terminal_get_t30_state(t38_));
    t38_terminal_free(t38_);
    t38_ = nullptr;
    packets_.clear();
  }

  // Called from inside SpanDSP (rx, tick, terminate): copy the packet, never throw.
  static int OnTxPacket(t38_core_state_t*, void* user, const uint8_t* buf, int len, int) {
    T38Session* self = static_cast<T38Session*>(user);
    if (buf == nullptr || len <= 0 || static_cast<size_t>(len) > kMaxIfp) return -1;
    try {
      if (self->packets_.size() >= kMaxPackets) return -1;
      self->packets_.emplace_back(buf, buf + len);
    } catch (...) {
      return -1;
    }
    return 0;
  }

  t38_terminal_state_t* t38_ = nullptr;
  EventLog log_;
  std::string logTag_;
  std::vector<uint8_t> rxBuffer_;
  std::vector<std::vector<uint8_t>> packets_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("FaxSession", FaxSession::Define(env));
  exports.Set("T38Session", T38Session::Define(env));
  exports.Set("spandspVersion", SPANDSP_RELEASE_DATETIME_STRING);
  exports.Set("samplesPerSecond", 8000);
  exports.Set("maxSamplesPerCall", kMaxSamples);
  return exports;
}

}  // namespace

NODE_API_MODULE(edgepbx_fax, Init)

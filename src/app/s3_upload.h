// Uploads completed log files (access, connection and health-check logs) to an S3-compatible
// store (config section `S3`), each to the bucket its load balancer's *.s3.bucket attribute
// names, under the key ALB would give it (the path below the local log directory). One PUT
// per file, signed with SigV4 (api/s3_sign.h), streamed from the file with sendfile(2).
//
// Nothing is lost: a file stays on disk until the store has answered 2xx (then it is removed
// unless KeepLocalFiles), and a failed upload is retried after 1, 2, 4, ... s (at most 5 min
// apart) for as long as the process runs. A failure is logged on the first attempt and on
// every power-of-two attempt after it, not on every retry.
//
// Thread: the uploader's own thread does every network and file operation; Configure,
// Enqueue and stats may be called from any thread; Stop from the owner.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "api/s3_sign.h"

namespace sluice::app {

// How to reach the store.
struct S3Target {
  std::string host;  // an IP address or a name (IPv6 without brackets)
  int port = 80;
  bool tls = false;  // https: the store's certificate verified (control/blocking_http.h)
  std::string region;
  config::AwsCredentials credentials;
  bool keep_local_files = false;
};

// The current UTC time as x-amz-date wants it: yyyymmddThhmmssZ.
std::string S3AmzDateNow();

// The text of the first <Code> element of an S3 error document when it is a word of at most
// 64 letters, digits, '.', '_' or '-' (NoSuchKey), else "".
std::string S3ErrorCode(std::string_view body);

struct S3UploadStats {
  uint64_t uploaded = 0;
  uint64_t failed_attempts = 0;
  uint64_t queued = 0;   // waiting now (first attempt or a retry)
  uint64_t dropped = 0;  // the queue was full: the file stays on disk, not uploaded
};

// Outcome of one upload attempt: the HTTP status (2xx is success), or 0 with the reason.
struct S3PutResult {
  int status = 0;
  std::string error;  // "" on success; the store's error text, or the failed step
};

// One signed PUT of the file at `local_path` to `bucket`/`key`, blocking, `timeout_ms` per
// step. Exposed for tests.
S3PutResult PutFileToS3(const S3Target& target, const std::string& local_path,
                        const std::string& bucket, const std::string& key, int timeout_ms);

class S3Uploader {
 public:
  using LogFn = std::function<void(const std::string&)>;
  static constexpr size_t kMaxQueued = 10000;
  static constexpr int64_t kMaxRetryMs = 5 * 60 * 1000;

  // `timeout_ms` bounds each step of an attempt (connect, each send, the answer).
  explicit S3Uploader(LogFn log, int first_retry_ms = 1000, int timeout_ms = 10000)
      : log_(std::move(log)), first_retry_ms_(first_retry_ms), timeout_ms_(timeout_ms) {}
  ~S3Uploader() { Stop(0); }
  S3Uploader(const S3Uploader&) = delete;
  S3Uploader& operator=(const S3Uploader&) = delete;

  // The store to upload to; nullopt holds the queue (uploads resume when one is set).
  void Configure(std::optional<S3Target> target);
  void Enqueue(std::string local_path, std::string bucket, std::string key);
  void Start();
  // Keeps uploading what is queued, retries included, for at most `budget_ms`, then joins;
  // what is left stays on disk (logged).
  void Stop(int budget_ms);
  S3UploadStats stats() const;

 private:
  struct Job {
    std::string local_path;
    std::string bucket;
    std::string key;
    int attempt = 0;
    int64_t due_ms = 0;  // steady clock
  };
  enum class Outcome { kUploaded, kRetry, kGone };
  void Run();
  // Attempts `job` (lock not held), each step bounded by `timeout_ms`.
  Outcome Attempt(Job& job, const S3Target& target, int timeout_ms);

  LogFn log_;
  const int first_retry_ms_;
  const int timeout_ms_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::optional<S3Target> target_;
  std::deque<Job> queue_;
  S3UploadStats stats_;
  bool stop_ = false;
  int64_t stop_by_ms_ = 0;  // steady clock; meaningful once stop_
  std::thread thread_;
};

}  // namespace sluice::app

#include "app/s3_upload.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>

#include "control/blocking_http.h"

namespace sluice::app {
namespace {

// Lowercase hex SHA-256 of the open file's first `size` bytes, or "" with *error.
std::string FileSha256Hex(int fd, uint64_t size, std::string* error) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    *error = "OpenSSL cannot hash";
    return "";
  }
  char buf[64 * 1024];
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, buf, static_cast<size_t>(std::min<uint64_t>(sizeof(buf), size - done)),
                      static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = n < 0 ? std::string("read: ") + std::strerror(errno) : "the file shrank";
      return "";
    }
    if (EVP_DigestUpdate(ctx.get(), buf, static_cast<size_t>(n)) != 1) {
      *error = "OpenSSL cannot hash";
      return "";
    }
    done += static_cast<uint64_t>(n);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) {
    *error = "OpenSSL cannot hash";
    return "";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

std::string ErrorText(int status, const std::string& body) {
  const std::string code = S3ErrorCode(body);
  return "HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code);
}

bool IsPowerOfTwo(int n) { return n > 0 && (n & (n - 1)) == 0; }

}  // namespace

std::string S3AmzDateNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string S3ErrorCode(std::string_view body) {
  const size_t open = body.find("<Code>");
  if (open == std::string_view::npos) return "";
  const size_t from = open + 6;
  const size_t close = body.find("</Code>", from);
  if (close == std::string_view::npos || close - from > 64) return "";
  const std::string_view code = body.substr(from, close - from);
  // A code is a word (NoSuchKey, AccessDenied): anything else is not repeated in messages.
  for (char ch : code) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-') {
      return "";
    }
  }
  return std::string(code);
}

S3PutResult PutFileToS3(const S3Target& target, const std::string& local_path,
                        const std::string& bucket, const std::string& key, int timeout_ms) {
  S3PutResult r;
  const int file = open(local_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file < 0) {
    r.error = "cannot open " + local_path + ": " + std::strerror(errno);
    return r;
  }
  struct stat st {};
  std::string hash;
  if (fstat(file, &st) != 0) {
    r.error = "cannot stat " + local_path + ": " + std::strerror(errno);
  } else {
    hash = FileSha256Hex(file, static_cast<uint64_t>(st.st_size), &r.error);
  }
  const std::string host_header = control::HostHeader(target.host, target.port);
  const std::string head =
      hash.empty()
          ? ""
          : api::S3PutObjectHead(host_header, bucket, key, static_cast<uint64_t>(st.st_size), hash,
                                 target.credentials, target.region, S3AmzDateNow());
  if (!hash.empty() && head.empty()) r.error = "OpenSSL cannot sign";
  if (!head.empty()) {
    auto c = control::BlockingConnection::Open(target.host, target.port, target.tls, timeout_ms,
                                               &r.error);
    if (c != nullptr) {
      std::string body;
      if (c->Send(head, &r.error) &&
          c->SendFile(file, static_cast<uint64_t>(st.st_size), &r.error)) {
        r.status = c->ReadStatus(control::SteadyMs() + timeout_ms, &r.error, &body);
        if (r.status != 0 && (r.status < 200 || r.status > 299)) {
          r.error = ErrorText(r.status, body);
        }
      }
    }
  }
  close(file);
  return r;
}

void S3Uploader::Configure(std::optional<S3Target> target) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    target_ = std::move(target);
  }
  wake_.notify_all();
}

void S3Uploader::Enqueue(std::string local_path, std::string bucket, std::string key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      ++stats_.dropped;
      log_("log upload queue full (" + std::to_string(kMaxQueued) + " files): " + local_path +
           " stays on disk, not uploaded");
      return;
    }
    queue_.push_back(
        Job{std::move(local_path), std::move(bucket), std::move(key), 0, control::SteadyMs()});
  }
  wake_.notify_all();
}

void S3Uploader::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void S3Uploader::Stop(int budget_ms) {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    stop_by_ms_ = control::SteadyMs() + budget_ms;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (!queue_.empty()) {
    log_(std::to_string(queue_.size()) +
         " log file(s) not uploaded, left on disk (first: " + queue_.front().local_path + ")");
  }
}

S3UploadStats S3Uploader::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  S3UploadStats s = stats_;
  s.queued = queue_.size();
  return s;
}

S3Uploader::Outcome S3Uploader::Attempt(Job& job, const S3Target& target, int timeout_ms) {
  const S3PutResult r = PutFileToS3(target, job.local_path, job.bucket, job.key, timeout_ms);
  ++job.attempt;
  if (r.status >= 200 && r.status <= 299) {
    if (job.attempt > 1) {
      log_("uploaded " + job.key + " to bucket " + job.bucket + " after " +
           std::to_string(job.attempt) + " attempts");
    }
    if (!target.keep_local_files && unlink(job.local_path.c_str()) != 0) {
      log_("uploaded " + job.local_path + " but cannot remove it: " + std::strerror(errno));
    }
    return Outcome::kUploaded;
  }
  if (access(job.local_path.c_str(), F_OK) != 0 && errno == ENOENT) {
    log_("log file " + job.local_path + " vanished before its upload");
    return Outcome::kGone;
  }
  if (IsPowerOfTwo(job.attempt)) {
    log_("upload of " + job.key + " to bucket " + job.bucket + " failed (attempt " +
         std::to_string(job.attempt) + "): " + r.error + "; retrying");
  }
  return Outcome::kRetry;
}

void S3Uploader::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    const int64_t now = control::SteadyMs();
    if (stop_ && (!target_ || queue_.empty() || now >= stop_by_ms_)) return;
    if (!target_ || queue_.empty()) {
      wake_.wait(lock, [this] { return stop_ || (target_ && !queue_.empty()); });
      continue;
    }
    auto next = queue_.begin();
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->due_ms < next->due_ms) next = it;
    }
    const int64_t until = stop_ ? std::min(next->due_ms, stop_by_ms_) : next->due_ms;
    if (until > now) {
      wake_.wait_for(lock, std::chrono::milliseconds(until - now));
      continue;
    }
    if (next->due_ms > now) return;  // stopping: the next retry falls after the budget
    Job job = std::move(*next);
    queue_.erase(next);
    const S3Target target = *target_;
    // Stopping: no attempt runs past the budget (each step gets what is left of it).
    const int timeout_ms =
        stop_ ? static_cast<int>(std::clamp<int64_t>(stop_by_ms_ - now, 1, timeout_ms_))
              : timeout_ms_;
    lock.unlock();
    const Outcome outcome = Attempt(job, target, timeout_ms);
    lock.lock();
    if (outcome == Outcome::kUploaded) {
      ++stats_.uploaded;
    } else if (outcome == Outcome::kRetry) {
      ++stats_.failed_attempts;
      const int64_t backoff =
          std::min<int64_t>(kMaxRetryMs, int64_t{first_retry_ms_} << std::min(job.attempt - 1, 20));
      job.due_ms = control::SteadyMs() + backoff;
      queue_.push_back(std::move(job));
    }
  }
}

}  // namespace sluice::app

// Local answers of DownstreamConnection: fixed responses and redirects, the load balancer's error
// responses, and the request body of a locally answered request read and discarded so that the next
// request on the connection can follow. Loop thread only.
#include "proxy/downstream_connection.h"
#include "proxy/local_response.h"
#include "proxy/request_rewrite.h"
#include "proxy/worker.h"
#include "routing/redirect.h"

namespace sluice::proxy {

void DownstreamConnection::RespondError(Cause cause, bool close_after) {
  const int status = Describe(cause).status;
  SetOutcome(cause, status);
  LocalResponseOptions o;
  o.head_request = head_request_;
  o.close = close_after || !keep_alive_;
  o.date = worker_->http_date();
  if (!o.close && version_minor_ == 0) o.http10_keep_alive = true;
  if (o.close) keep_alive_ = false;
  worker_->TakeString(out_);
  AppendErrorResponse(status, o, &out_);
  StartLocalResponse(o.close);
}

void DownstreamConnection::StartLocalResponse(bool close_after) {
  if (close_after) {
    keep_alive_ = false;
    // The rest of the input cannot be trusted to be framed: do not read it.
    req_body_done_ = true;
    phase_ = Phase::kClosing;
    in_.Clear();
    return;
  }
  phase_ = Phase::kLocal;
}

bool DownstreamConnection::DrainLocalRequestBody() {
  // A locally answered request's body is read and discarded so the next request can follow.
  if (req_body_done_) return false;
  bool progress = false;
  if (req_framing_.kind == http::BodyKind::kContentLength) {
    size_t take = in_.size() < req_remaining_ ? in_.size() : static_cast<size_t>(req_remaining_);
    if (take > 0) {
      in_.Consume(take);
      received_bytes_ += take;
      req_remaining_ -= take;
      progress = true;
    }
    if (req_remaining_ == 0) req_body_done_ = true;
  } else if (req_framing_.kind == http::BodyKind::kChunked) {
    while (!in_.empty() && !req_chunks_.done()) {
      std::string_view data;
      size_t used = req_chunks_.Feed(in_.readable(), &data);
      if (req_chunks_.failed()) {
        keep_alive_ = false;
        phase_ = Phase::kClosing;
        return true;
      }
      in_.Consume(used);
      received_bytes_ += used;
      progress = progress || used > 0;
      if (used == 0) break;
    }
    if (req_chunks_.done()) req_body_done_ = true;
  } else {
    req_body_done_ = true;
  }
  return progress;
}

void DownstreamConnection::AnswerFixedResponse(const config::Action& action) {
  SetOutcome(Cause::kFixedResponse, action.fixed_response.status_code);
  bool close = !keep_alive_ || (expect_continue_ && !req_body_done_);
  LocalResponseOptions o{head_request_, close, !close && version_minor_ == 0, worker_->http_date()};
  worker_->TakeString(out_);
  AppendFixedResponse(action.fixed_response, o, &out_);
  StartLocalResponse(close);
}

void DownstreamConnection::AnswerRedirect(const config::Action& action, const RequestTarget& target,
                                          std::string_view host) {
  routing::RedirectInputs in;
  in.protocol = snapshot::SchemeOf(listener_->protocol);
  char fallback[64];
  size_t fallback_len = listener_address_.ip.Format(fallback, sizeof(fallback));
  // An HTTP/1.0 request without Host: the listener's address stands in (as for forwards).
  in.host = host.empty() ? std::string_view(fallback, fallback_len) : HostWithoutPort(host);
  in.port = listener_->port_text;
  in.path = target.path;
  in.query = target.query;
  std::string location;
  if (!routing::BuildRedirectLocation(action.redirect, in, &location)) {
    RespondError(Cause::kInternalError, !req_body_done_);
    return;
  }
  SetOutcome(Cause::kRedirect, action.redirect.status_code);
  RecordRedirect(location);
  bool close = !keep_alive_ || (expect_continue_ && !req_body_done_);
  LocalResponseOptions o{head_request_, close, !close && version_minor_ == 0, worker_->http_date()};
  worker_->TakeString(out_);
  AppendRedirectResponse(action.redirect.status_code, location, o, &out_);
  StartLocalResponse(close);
}

}  // namespace sluice::proxy

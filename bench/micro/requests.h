// Request heads shared by the micro-benchmarks.
#pragma once

#include <string_view>

namespace sluice::bench {

// A typical browser navigation request (Chrome 120 on Linux), 16 headers, ~800 bytes.
inline constexpr std::string_view kBrowserRequest =
    "GET /products/shoes/running?color=blue&size=42 HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Not_A Brand\";v=\"8\", \"Chromium\";v=\"120\", \"Google Chrome\";v=\"120\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Referer: https://shop.example.com/products/shoes\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-GB,en-US;q=0.9,en;q=0.8\r\n"
    "Cookie: session=5f2b8c1e9a7d4e3f8b6a0c2d1e4f7a9b; _ga=GA1.2.1234567890.1700000000; "
    "theme=dark; cart=3\r\n"
    "\r\n";

// The request picohttpparser's and many parsers' benchmarks use (10 headers, ~700 bytes).
inline constexpr std::string_view kPicoRequest =
    "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"
    "Host: www.kittyhell.com\r\n"
    "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_3; ja-JP-mac; rv:1.9.2.3) "
    "Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"
    "Accept-Encoding: gzip,deflate\r\n"
    "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"
    "Keep-Alive: 115\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
    "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "
    "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|"
    "utmcct=/reader/|utmcmd=referral\r\n"
    "\r\n";

// A minimal request, as wrk sends it.
inline constexpr std::string_view kMinimalRequest =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

inline std::string_view RequestByIndex(int i) {
  switch (i) {
    case 0:
      return kBrowserRequest;
    case 1:
      return kPicoRequest;
    default:
      return kMinimalRequest;
  }
}
inline const char* RequestName(int i) {
  switch (i) {
    case 0:
      return "browser";
    case 1:
      return "pico";
    default:
      return "minimal";
  }
}

}  // namespace sluice::bench

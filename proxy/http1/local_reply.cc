#include "proxy/http1/local_reply.h"

#include "absl/strings/str_cat.h"

namespace remora::proxy::http1 {

std::string LocalResponse(const filter::LocalReply& reply, bool keep_alive) {
  return absl::StrCat("HTTP/1.1 ", reply.status, " ", reply.reason,
                      "\r\ncontent-type: text/plain\r\n", "content-length: ", reply.body.size(),
                      "\r\nserver: remora\r\n", keep_alive ? "" : "connection: close\r\n", "\r\n",
                      reply.body);
}

}  // namespace remora::proxy::http1

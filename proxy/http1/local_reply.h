// A response the proxy writes itself (a filter's local reply, or the codec's own 400/408/413/502/
// 503), as HTTP/1.1 bytes: text/plain, Content-Length, "server: remora", and "connection: close"
// when the connection ends after it.
#pragma once

#include <string>

#include "proxy/filter/filter_result.h"

namespace remora::proxy::http1 {

std::string LocalResponse(const filter::LocalReply& reply, bool keep_alive);

}  // namespace remora::proxy::http1

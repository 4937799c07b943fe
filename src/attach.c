/* SPDX-License-Identifier: MIT */
/*
 * bx_remote_attach (include/beambox/remote.h): the proxy engine of remote.c
 * on a socket the caller hands over, with no process behind it to watch.
 */
#define _GNU_SOURCE
#include <beambox/remote.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <beambox/beam.h>

#include "engine_internal.h"
#include "remote.h"
#include "util/error.h"

/* bx_engine_free of an attached engine: the proxy's state, then the connection. */
static void attached_free(bx_engine *eng, void *ctx)
{
	bx_remote_proxy_state_free(bx_engine_catchall_ctx(eng));
	bx_beam_free(ctx);
}

BX_API int bx_remote_attach(int sock, bx_engine **out, bx_error *err)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	bx_beam *main = NULL;
	bx_engine *eng = NULL;
	int own, flags, r;

	if (!out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_remote_attach: no out");
	if (sock < 0)
		return bx_fail(err, -EBADF, BX_NO_OFFSET, "bx_remote_attach: fd %d", sock);
	if (getpeername(sock, (struct sockaddr *)&peer, &plen) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "attaching to fd %d: %m", sock);
	/*
	 * The engine works on its own descriptor of the socket, so that every
	 * failure below leaves the caller's exactly as it was; the caller's is
	 * closed only on success.
	 */
	own = fcntl(sock, F_DUPFD_CLOEXEC, 3);
	if (own < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "attaching to fd %d: %m", sock);
	r = bx_beam_new(own, &main);
	if (r < 0) {
		close(own);
		return bx_fail(err, r, BX_NO_OFFSET, "attaching to fd %d: %s", sock, strerror(-r));
	}
	/* No peer: an original-protocol worker, with no process to describe or kill. */
	r = bx_remote_proxy_new(main, NULL, &eng);
	if (r < 0) {
		bx_beam_free(main);
		return bx_fail(err, r, BX_NO_OFFSET, "proxy engine: %s", strerror(-r));
	}
	bx_engine_set_on_free(eng, attached_free, main);
	/* As bx_spawn's connections: sends wait in poll() (shared with sock: same socket). */
	flags = fcntl(own, F_GETFL);
	if (flags < 0 || fcntl(own, F_SETFL, flags | O_NONBLOCK) < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "attaching to fd %d: fcntl: %m", sock);
		bx_engine_free(eng);
		return r;
	}
	close(sock);
	*out = eng;
	return 0;
}

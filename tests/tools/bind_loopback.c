/* bind_loopback.c - an LD_PRELOAD shim that turns a bind() to the wildcard
 * address into a bind() to loopback, for servers with no host option. */
/* DynamoDB Local (Jetty) has no option to choose its listen address and
 * always binds 0.0.0.0; the tests and the demo must listen on 127.0.0.1 only.
 * Run Java with -Djava.net.preferIPv4Stack=true so its sockets are AF_INET. */
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	static int (*real_bind)(int, const struct sockaddr *, socklen_t);
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;

	if (!real_bind)
		real_bind = (int (*)(int, const struct sockaddr *,
				     socklen_t))dlsym(RTLD_NEXT, "bind");
	if (addr && addr->sa_family == AF_INET && len >= sizeof(in4)) {
		memcpy(&in4, addr, sizeof(in4));
		if (in4.sin_addr.s_addr == htonl(INADDR_ANY)) {
			in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			return real_bind(fd, (struct sockaddr *)&in4,
					 sizeof(in4));
		}
	} else if (addr && addr->sa_family == AF_INET6 && len >= sizeof(in6)) {
		memcpy(&in6, addr, sizeof(in6));
		if (memcmp(&in6.sin6_addr, &in6addr_any, sizeof(in6addr_any)) ==
		    0) {
			in6.sin6_addr = in6addr_loopback;
			return real_bind(fd, (struct sockaddr *)&in6,
					 sizeof(in6));
		}
	}
	return real_bind(fd, addr, len);
}

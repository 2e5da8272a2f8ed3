/** --help text, in the shape of qemu-storage-daemon's. */
export const USAGE = `Usage: qmpd [options]
QMP-compatible block management daemon (qemu-storage-daemon 7.2 command line)

  -h, --help             display this help and exit
  -V, --version          output version information and exit
  -T, --trace <pattern>  accepted for compatibility; qmpd logs with --log-level

  --blockdev [driver=]<driver>[,node-name=<N>][,read-only=on|off]
             [,driver specific parameters...] | <JSON object>
                         configure a block node (file, raw, qcow2, null-co)

  --drive file=<path>,if=none,id=<id>[,format=<fmt>][,node-name=<N>]
          [,read-only=on|off]
                         open an image as a named drive (a BlockBackend)

  --chardev socket,id=<id>,path=<path>[,server=on][,wait=off]
  --chardev socket,id=<id>,host=<host>,port=<port>[,server=on][,wait=off]
                         configure a socket for a monitor

  --monitor [chardev=]name[,mode=control][,pretty[=on|off]]
                         configure a QMP monitor

  --nbd-server addr.type=unix,addr.path=<path>[,max-connections=<n>]
  --nbd-server addr.type=inet,addr.host=<host>,addr.port=<port>
                         start an NBD server for exporting block nodes

  --export [type=]nbd,id=<id>,node-name=<node-name>[,name=<export-name>]
           [,writable=on|off][,bitmap=<name>]
                         export the specified block node over NBD

  --object iothread,id=<id>
                         accepted and recorded (qmpd has one event loop)

  --http [host:]port | unix:<path>
                         serve HTTP and WebSocket (loopback unless a token is set)
  --http-token-file <file>
                         bearer token for HTTP and WebSocket clients
  --http-allow-origin <origin>
                         allow WebSocket upgrades and CORS from this origin

  --pidfile <path>       write the process id to <path>; removed at exit
  --daemonize            accepted; qmpd stays in the foreground
  --log-level <level>    pino log level (also QMPD_LOG_LEVEL); logs go to stderr
  --state-dir <dir>      with no other options: where the default run keeps
                         its socket and demo image (default ./qmpd-state)

With no options at all, qmpd starts its default run: a state directory with a
demo qcow2 image opened as drive 'drive0', a QMP socket and HTTP on loopback.
`;

#!/usr/bin/env bash
# Builds, offline, the stand-ins of the images critest 1.26 pulls, as one OCI
# layout, and lists where each goes in the local registry.
#
#   scripts/critest/images.sh OUT_LAYOUT DEB_CACHE > push-list
#
# Each output line is "<ref in the layout> <repository:tag in the registry>";
# containerd's registry mirrors send registry.k8s.io/X, k8s.gcr.io/X and
# gcr.io/X to the local registry's /X.
#
# What the suite checks of each image decides what the stand-in holds:
# - busybox: Debian's dynamic busybox with its applets hardlinked on PATH (the
#   static build runs applets without a PATH lookup, which the masked-paths
#   spec notices), plus procps' pgrep/pkill and util-linux's ipcs (not
#   busybox applets in Debian) with the host's libraries.
# - nginx: Debian's real nginx (master/worker titles, /var/run/nginx.pid).
# - httpd: busybox httpd behind a script that logs Apache's
#   "Command line: 'httpd -D FOREGROUND'" line, the one the suite waits for.
# - nonewprivs: a static program, setuid root, printing its effective uid.
# - pause: a static program that waits for SIGTERM and reaps orphans.
# - test-image-*: busybox plus the file or USER the upstream Dockerfiles add.
set -euo pipefail

out=$1
debs=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-critest-img.XXXXXX")
trap 'rm -rf "$work"' EXIT

rm -rf "$out"
mkdir -p "$out/blobs/sha256" "$debs"
printf '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
: >"$work/index.lines"

PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# blob FILE MEDIATYPE: moves FILE into the layout, prints its descriptor.
blob() {
    local digest size
    digest=$(sha256sum "$1" | cut -d' ' -f1)
    size=$(stat -c %s "$1")
    mv -f "$1" "$out/blobs/sha256/$digest"
    jq -nc --arg mt "$2" --arg d "sha256:$digest" --argjson s "$size" \
        '{mediaType: $mt, digest: $d, size: $s}'
}

# layer DIR: an uncompressed, reproducible layer of DIR, owned by root.
layer() {
    tar -C "$1" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 \
        -cf "$work/layer.tar" .
    blob "$work/layer.tar" application/vnd.oci.image.layer.v1.tar
}

# image REF CONFIG LAYER...: a manifest named REF in the layout; CONFIG is
# the image config's "config" object, each LAYER a descriptor from `layer`.
image() {
    local ref=$1 cfg=$2 layers config manifest
    shift 2
    layers=$(printf '%s\n' "$@" | jq -sc .)
    jq -nc --argjson c "$cfg" --argjson l "$layers" \
        '{architecture: "amd64", os: "linux", config: $c,
          rootfs: {type: "layers", diff_ids: [$l[].digest]}}' >"$work/config.json"
    config=$(blob "$work/config.json" application/vnd.oci.image.config.v1+json)
    jq -nc --argjson c "$config" --argjson l "$layers" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
          config: $c, layers: $l}' >"$work/manifest.json"
    manifest=$(blob "$work/manifest.json" application/vnd.oci.image.manifest.v1+json)
    jq -c --arg r "$ref" '. + {annotations: {"org.opencontainers.image.ref.name": $r}}' \
        <<<"$manifest" >>"$work/index.lines"
}

# libs ROOT BINARY: copies the host's shared libraries that ldd finds for
# BINARY into ROOT, at the same paths.
libs() {
    local lib
    for lib in $(ldd "$2" | grep -o '/[^ ]*'); do
        mkdir -p "$1$(dirname "$lib")"
        cp -L "$lib" "$1$lib"
    done
}

# with_libs ROOT FILE...: copies each host FILE into ROOT at the same path,
# with its libraries.
with_libs() {
    local root=$1 f
    shift
    for f in "$@"; do
        mkdir -p "$root$(dirname "$f")"
        cp -L "$f" "$root$f"
        libs "$root" "$f"
    done
}

# deb NAME: the cached .deb of Debian package NAME (downloaded once).
deb() {
    local f
    f=$(ls "$debs/$1"_*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$f" ]; then
        (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$1" >&2)
        f=$(ls "$debs/$1"_*.deb | head -n1)
    fi
    echo "$f"
}

# --- busybox base -----------------------------------------------------------
bb=$work/busybox
mkdir -p "$work/bbdeb" "$bb"/{bin,etc,proc,sys,dev,tmp,root,home,run,var/www,usr/local/bin}
chmod 1777 "$bb/tmp"
dpkg-deb -x "$(deb busybox)" "$work/bbdeb"
cp "$work/bbdeb/bin/busybox" "$bb/bin/busybox"
libs "$bb" "$bb/bin/busybox"
with_libs "$bb" /usr/bin/pgrep /usr/bin/pkill /usr/bin/ipcs
for applet in $("$bb/bin/busybox" --list-full); do
    [ -e "$bb/$applet" ] && continue
    mkdir -p "$bb/$(dirname "$applet")"
    ln "$bb/bin/busybox" "$bb/$applet"
done
ln -sf ../run "$bb/var/run"
cat >"$bb/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
cat >"$bb/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
www-data:x:33:
nogroup:x:65534:
EOF
base=$(layer "$bb")
sh_cfg=$(jq -nc --arg p "$PATH_ENV" '{Env: [$p], Cmd: ["sh"]}')

image busybox "$sh_cfg" "$base"
echo "busybox e2e-test-images/busybox:1.29-2"

# --- test-image-*: busybox plus a file named after the image ---------------
for name in test-image-1 test-image-2 test-image-3 test-image-latest test same-image all; do
    mkdir -p "$work/file-$name"
    touch "$work/file-$name/$name"
    image "file-$name" "$sh_cfg" "$base" "$(layer "$work/file-$name")"
done
for n in 1 2 3; do
    echo "file-test-image-$n k8s-staging-cri-tools/test-image-$n:latest"
    echo "file-same-image k8s-staging-cri-tools/test-image-tags:$n"
done
echo "file-test-image-latest k8s-staging-cri-tools/test-image-latest:latest"
echo "file-test k8s-staging-cri-tools/test-image-tag:test"
echo "file-all k8s-staging-cri-tools/test-image-tag:all"

# --- test-image-user-*: busybox with a USER --------------------------------
for pair in uid=1002 username=www-data uid-group=1003:1004 username-group=www-data:1004; do
    suffix=${pair%%=*}
    cfg=$(jq -c --arg u "${pair#*=}" '. + {User: $u}' <<<"$sh_cfg")
    image "user-$suffix" "$cfg" "$base"
    echo "user-$suffix k8s-staging-cri-tools/test-image-user-$suffix:latest"
done

# --- test-image-predefined-group: default-user (1000) in group 50000 -------
pg=$work/predefined-group
mkdir -p "$pg/etc" "$pg/home/default-user"
cp "$bb/etc/passwd" "$bb/etc/group" "$pg/etc/"
echo 'default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh' >>"$pg/etc/passwd"
printf 'default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n' >>"$pg/etc/group"
image predefined-group "$(jq -c '. + {User: "1000"}' <<<"$sh_cfg")" "$base" "$(layer "$pg")"
echo "predefined-group k8s-staging-cri-tools/test-image-predefined-group:latest"

# --- nginx (port 80) and hostnet-nginx (port 12003) -------------------------
mkdir -p "$work/nginxdeb"
dpkg-deb -x "$(deb nginx)" "$work/nginxdeb"
dpkg-deb -x "$(deb nginx-common)" "$work/nginxdeb"
for port in 80 12003; do
    ng=$work/nginx-$port
    mkdir -p "$ng/usr/sbin" "$ng/etc/nginx" "$ng/var/log/nginx" "$ng/var/lib/nginx" "$ng/usr/share/nginx"
    cp "$work/nginxdeb/usr/sbin/nginx" "$ng/usr/sbin/nginx"
    libs "$ng" "$ng/usr/sbin/nginx"
    cp "$work/nginxdeb/etc/nginx/mime.types" "$ng/etc/nginx/"
    cp -r "$work/nginxdeb/usr/share/nginx/html" "$ng/usr/share/nginx/"
    cat >"$ng/etc/nginx/nginx.conf" <<EOF
user www-data;
worker_processes 1;
pid /var/run/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    access_log /dev/stdout;
    server {
        listen $port;
        root /usr/share/nginx/html;
        index index.html index.nginx-debian.html;
    }
}
EOF
    image "nginx-$port" \
        "$(jq -nc --arg p "$PATH_ENV" '{Env: [$p], Cmd: ["nginx", "-g", "daemon off;"]}')" \
        "$base" "$(layer "$ng")"
done
echo "nginx-80 e2e-test-images/nginx:1.14-2"
echo "nginx-12003 k8s-staging-cri-tools/hostnet-nginx-amd64:latest"

# --- httpd ------------------------------------------------------------------
hd=$work/httpd
mkdir -p "$hd/usr/local/bin" "$hd/usr/local/apache2/htdocs"
echo '<html><body><h1>It works!</h1></body></html>' >"$hd/usr/local/apache2/htdocs/index.html"
cat >"$hd/usr/local/bin/httpd-foreground" <<'EOF'
#!/bin/sh
# Stand-in for httpd:2.4.39: Apache logs its command line when it starts.
echo "[core:notice] AH00094: Command line: 'httpd -D FOREGROUND'" >&2
exec httpd -f -p 80 -h /usr/local/apache2/htdocs
EOF
chmod 755 "$hd/usr/local/bin/httpd-foreground"
image httpd "$(jq -nc --arg p "$PATH_ENV" '{Env: [$p], Cmd: ["httpd-foreground"]}')" \
    "$base" "$(layer "$hd")"
echo "httpd e2e-test-images/httpd:2.4.39-4"

# --- nonewprivs and pause: static programs ----------------------------------
nnp=$work/nonewprivs
mkdir -p "$nnp/usr/local/bin"
gcc -static -Os -o "$nnp/usr/local/bin/nnp" "$here/nonewprivs.c"
chmod 4755 "$nnp/usr/local/bin/nnp"
image nonewprivs '{"Entrypoint": ["/usr/local/bin/nnp"]}' "$(layer "$nnp")"
echo "nonewprivs e2e-test-images/nonewprivs:1.3"

pause=$work/pause
mkdir -p "$pause"
gcc -static -Os -o "$pause/pause" "$here/pause.c"
image pause '{"Entrypoint": ["/pause"], "User": "65535:65535"}' "$(layer "$pause")"
echo "pause pause:3.9"

jq -sc '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: .}' \
    "$work/index.lines" >"$out/index.json"

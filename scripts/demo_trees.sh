#!/usr/bin/env bash
# Builds a demo source tree and a "migrated" target copy with known
# differences, for `make run` and for trying sms-agent by hand.
# usage: scripts/demo_trees.sh DIR   (creates DIR/source and DIR/target)
set -euo pipefail
dir=${1:?usage: demo_trees.sh DIR}
rm -rf "$dir/source" "$dir/target"
src="$dir/source"
mkdir -p "$src/etc/app" "$src/var/www/html/assets" "$src/home/alice/docs" \
         "$src/var/lib/db" "$src/srv/cache/empty"
for i in $(seq 1 40); do
  printf 'setting_%03d = %d\n' "$i" $((i * 7)) > "$src/etc/app/conf.$i"
done
for i in $(seq 1 60); do
  head -c $((i * 997)) /dev/urandom > "$src/var/www/html/assets/img$i.bin"
done
echo '<h1>hello</h1>' > "$src/var/www/html/index.html"
for i in $(seq 1 25); do echo "note $i" > "$src/home/alice/docs/note$i.txt"; done
echo 'quarterly' > "$src/home/alice/docs/report Q3 (final).txt"
printf 'x' > "$src/home/alice/docs/$(printf 'line\nbreak.txt')"
head -c 3000000 /dev/urandom > "$src/var/lib/db/data.db"
ln -s ../app/conf.1 "$src/etc/current.conf"
ln -s /nonexistent "$src/etc/dangling"

cp -a "$src" "$dir/target"
tgt="$dir/target"
# The differences the demo must find:
printf 'setting_007 = 50\n' > "$tgt/etc/app/conf.7"             # content, same size
touch -r "$src/etc/app/conf.7" "$tgt/etc/app/conf.7"            # ... and same mtime
echo 'appended' >> "$tgt/var/www/html/index.html"               # size
rm "$tgt/home/alice/docs/note3.txt"                             # missing on target
rm -r "$tgt/var/www/html/assets"                                # whole dir missing
mkdir -p "$tgt/var/www/html/new" && echo extra > "$tgt/var/www/html/new/page.html"
echo stray > "$tgt/etc/app/conf.bak"                            # extra on target
ln -sfn ../app/conf.2 "$tgt/etc/current.conf"                   # symlink retargeted
echo "demo trees: $src and $tgt"

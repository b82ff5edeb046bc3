#!/bin/sh
# Remakes the simulator's media with ffmpeg (Debian package `ffmpeg`):
# a 2-second 320x180 H.264 MP4 (faststart, so players can start before the end),
# a WebP thumbnail of its first second, and a 4x2 JPEG spritesheet of 80x45 frames.
set -eu
cd "$(dirname "$0")"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=320x180:rate=12:duration=2" \
  -c:v libx264 -preset veryslow -crf 34 -pix_fmt yuv420p -profile:v baseline \
  -movflags +faststart -map_metadata -1 -fflags +bitexact -flags:v +bitexact \
  video.mp4
ffmpeg -hide_banner -loglevel error -y -ss 1 -i video.mp4 -frames:v 1 \
  -c:v libwebp -quality 60 thumbnail.webp
ffmpeg -hide_banner -loglevel error -y -i video.mp4 \
  -vf "fps=4,scale=80:45,tile=4x2" -frames:v 1 -q:v 6 spritesheet.jpg

"""The probe's answer caps the video a browser sends with b=AS, in the video section only."""

from __future__ import annotations

from telepractice.signaling.probe import limit_video_bitrate

ANSWER = "\r\n".join([
    "v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "b=AS:2000", "a=rtpmap:96 VP8/90000",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 0.0.0.0", "a=sctp-port:5000", "",
])


def test_video_gets_the_cap_and_loses_any_other_bandwidth_line() -> None:
    lines = limit_video_bitrate(ANSWER, 600).split("\r\n")
    video = lines[lines.index("m=video 9 UDP/TLS/RTP/SAVPF 96"):lines.index("m=application 9 UDP/DTLS/SCTP webrtc-datachannel")]
    assert [line for line in video if line.startswith("b=")] == ["b=AS:600"]
    assert video[video.index("c=IN IP4 0.0.0.0") + 1] == "b=AS:600"


def test_the_data_channel_section_is_left_alone() -> None:
    lines = limit_video_bitrate(ANSWER, 600).split("\r\n")
    application = lines[lines.index("m=application 9 UDP/DTLS/SCTP webrtc-datachannel"):]
    assert not [line for line in application if line.startswith("b=")]

"""SOAP response templates of the ONVIF device simulator (vms/sim/onvif.py), filled
with ``fill``: markup (``Xml``) as is, every other value escaped."""

from __future__ import annotations

from xml.sax.saxutils import escape

Position = tuple[float, float, float]
SPACES = "http://www.onvif.org/ver10/tptz"


class Xml(str):
    """Markup (filled in as is); a plain ``str`` field is text and gets escaped."""


def fill(template: str, **fields: object) -> Xml:
    """``template`` (newlines dropped) with ``fields``: Xml as is, bools as xs:boolean,
    anything else escaped."""

    def text(value: object) -> str:
        if isinstance(value, Xml):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return escape(str(value), {'"': "&quot;"})

    return Xml(template.replace("\n", "").format(**{k: text(v) for k, v in fields.items()}))


ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="{env}" xmlns:tt="{tt}" xmlns:tds="{tds}" xmlns:trt="{trt}"
 xmlns:tptz="{tptz}" xmlns:ter="{ter}"><env:Body>{body}</env:Body></env:Envelope>"""
FAULT = """<env:Fault><env:Code><env:Value>{code}</env:Value>{subcodes}</env:Code>
<env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault>"""
NGINX_500 = (
    "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    "<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
DEVICE_INFORMATION = """<tds:GetDeviceInformationResponse>
<tds:Manufacturer>{manufacturer}</tds:Manufacturer><tds:Model>{model}</tds:Model>
<tds:FirmwareVersion>{firmware}</tds:FirmwareVersion>
<tds:SerialNumber>{serial}</tds:SerialNumber><tds:HardwareId>{hardware_id}</tds:HardwareId>
</tds:GetDeviceInformationResponse>"""
DATE_TIME = """<tt:Time><tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute>
<tt:Second>{t.second}</tt:Second></tt:Time><tt:Date><tt:Year>{t.year}</tt:Year>
<tt:Month>{t.month}</tt:Month><tt:Day>{t.day}</tt:Day></tt:Date>"""
SYSTEM_DATE_AND_TIME = """<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>
<tt:DateTimeType>{kind}</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>
<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime>{now}</tt:UTCDateTime>
<tt:LocalDateTime>{now}</tt:LocalDateTime></tds:SystemDateAndTime>
</tds:GetSystemDateAndTimeResponse>"""
CAPABILITIES = """<tds:GetCapabilitiesResponse><tds:Capabilities>{device}{media}{ptz}
</tds:Capabilities></tds:GetCapabilitiesResponse>"""
CAPABILITY_DEVICE = "<tt:Device><tt:XAddr>{xaddr}</tt:XAddr></tt:Device>"
CAPABILITY_MEDIA = """<tt:Media><tt:XAddr>{xaddr}</tt:XAddr><tt:StreamingCapabilities>
<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>
<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"""
CAPABILITY_PTZ = "<tt:PTZ><tt:XAddr>{xaddr}</tt:XAddr></tt:PTZ>"
SERVICE = """<tds:Service><tds:Namespace>{namespace}</tds:Namespace><tds:XAddr>{xaddr}</tds:XAddr>
<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"""
SCOPE = (
    "<tds:Scopes><tt:ScopeDef>{kind}</tt:ScopeDef><tt:ScopeItem>{item}</tt:ScopeItem></tds:Scopes>"
)
HOSTNAME = """<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>
<tt:Name>{name}</tt:Name></tds:HostnameInformation></tds:GetHostnameResponse>"""
NETWORK_INTERFACES = """<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">
<tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>02:00:00:00:00:01
</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info><tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config>
<tt:Manual><tt:Address>{address}</tt:Address><tt:PrefixLength>8</tt:PrefixLength></tt:Manual>
<tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4></tds:NetworkInterfaces>
</tds:GetNetworkInterfacesResponse>"""
PROFILE = """<{tag} token="{token}" fixed="true"><tt:Name>{name}</tt:Name>
<tt:VideoSourceConfiguration token="video_source_config_0"><tt:Name>VideoSourceConfig</tt:Name>
<tt:UseCount>{uses}</tt:UseCount><tt:SourceToken>video_source_0</tt:SourceToken>
<tt:Bounds x="0" y="0" width="1280" height="720"/></tt:VideoSourceConfiguration>
<tt:VideoEncoderConfiguration token="video_encoder_{name}"><tt:Name>VideoEncoder_{name}</tt:Name>
<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution>
<tt:Width>{width}</tt:Width><tt:Height>{height}</tt:Height></tt:Resolution>
<tt:Quality>5</tt:Quality><tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit>
<tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>{kbps}</tt:BitrateLimit>
</tt:RateControl><tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile>
</tt:H264><tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0
</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false
</tt:AutoStart></tt:Multicast><tt:SessionTimeout>PT60S</tt:SessionTimeout>
</tt:VideoEncoderConfiguration>{ptz}</{tag}>"""
MEDIA_URI = """<{tag}><trt:MediaUri><tt:Uri>{uri}</tt:Uri>
<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>
<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>
</trt:MediaUri></{tag}>"""
VIDEO_SOURCES = """<trt:GetVideoSourcesResponse><trt:VideoSources token="video_source_0">
<tt:Framerate>25</tt:Framerate><tt:Resolution><tt:Width>1280</tt:Width><tt:Height>720</tt:Height>
</tt:Resolution></trt:VideoSources></trt:GetVideoSourcesResponse>"""
SPACE = """<tt:{kind}><tt:URI>{s}/{uri}</tt:URI><tt:XRange><tt:Min>{lo}</tt:Min>
<tt:Max>1</tt:Max></tt:XRange>{y}</tt:{kind}>"""
Y_RANGE = "<tt:YRange><tt:Min>-1</tt:Min><tt:Max>1</tt:Max></tt:YRange>"
PTZ_CONFIGURATION = """<{tag} token="ptz_config_0"><tt:Name>PTZConfig</tt:Name>
<tt:UseCount>{uses}</tt:UseCount><tt:NodeToken>ptz_node_0</tt:NodeToken>
<tt:DefaultAbsolutePantTiltPositionSpace>{s}/PanTiltSpaces/PositionGenericSpace
</tt:DefaultAbsolutePantTiltPositionSpace><tt:DefaultAbsoluteZoomPositionSpace>
{s}/ZoomSpaces/PositionGenericSpace</tt:DefaultAbsoluteZoomPositionSpace>
<tt:DefaultContinuousPanTiltVelocitySpace>{s}/PanTiltSpaces/VelocityGenericSpace
</tt:DefaultContinuousPanTiltVelocitySpace><tt:DefaultContinuousZoomVelocitySpace>
{s}/ZoomSpaces/VelocityGenericSpace</tt:DefaultContinuousZoomVelocitySpace>
<tt:DefaultPTZSpeed><tt:PanTilt x="1" y="1"/><tt:Zoom x="1"/></tt:DefaultPTZSpeed>
<tt:DefaultPTZTimeout>PT{timeout_s}S</tt:DefaultPTZTimeout>
<tt:PanTiltLimits>{pan_tilt}</tt:PanTiltLimits><tt:ZoomLimits>{zoom}</tt:ZoomLimits></{tag}>"""
NODE = """<tptz:PTZNode token="ptz_node_0" FixedHomePosition="false"><tt:Name>PTZ</tt:Name>
<tt:SupportedPTZSpaces>{spaces}</tt:SupportedPTZSpaces>
<tt:MaximumNumberOfPresets>{max_presets}</tt:MaximumNumberOfPresets>
<tt:HomeSupported>true</tt:HomeSupported></tptz:PTZNode>"""
VECTOR = """<{tag}><tt:PanTilt x="{p:.6f}" y="{t:.6f}"
 space="{s}/PanTiltSpaces/PositionGenericSpace"/><tt:Zoom x="{z:.6f}"
 space="{s}/ZoomSpaces/PositionGenericSpace"/></{tag}>"""
STATUS = """<tptz:GetStatusResponse><tptz:PTZStatus>{position}<tt:MoveStatus>
<tt:PanTilt>{pan_tilt}</tt:PanTilt><tt:Zoom>{zoom}</tt:Zoom></tt:MoveStatus>
<tt:UtcTime>{utc}</tt:UtcTime></tptz:PTZStatus></tptz:GetStatusResponse>"""
SET_PRESET = """<tptz:SetPresetResponse><tptz:PresetToken>{token}</tptz:PresetToken>
</tptz:SetPresetResponse>"""
PRESET = '<tptz:Preset token="{token}"><tt:Name>{name}</tt:Name>{position}</tptz:Preset>'


def space(kind: str, uri: str, lo: int, two_d: bool = False) -> Xml:
    return fill(SPACE, kind=kind, s=SPACES, uri=uri, lo=lo, y=Xml(Y_RANGE if two_d else ""))


def vector(tag: str, pos: Position) -> Xml:
    return Xml(VECTOR.replace("\n", "").format(tag=tag, p=pos[0], t=pos[1], z=pos[2], s=SPACES))


NODE_SPACES = Xml(
    space("AbsolutePanTiltPositionSpace", "PanTiltSpaces/PositionGenericSpace", -1, True)
    + space("AbsoluteZoomPositionSpace", "ZoomSpaces/PositionGenericSpace", 0)
    + space("ContinuousPanTiltVelocitySpace", "PanTiltSpaces/VelocityGenericSpace", -1, True)
    + space("ContinuousZoomVelocitySpace", "ZoomSpaces/VelocityGenericSpace", -1)
    + space("PanTiltSpeedSpace", "PanTiltSpaces/GenericSpeedSpace", 0)
    + space("ZoomSpeedSpace", "ZoomSpaces/ZoomGenericSpeedSpace", 0)
)

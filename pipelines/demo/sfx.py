"""Sound effects of the demo corpus, captioned from their file names.

Sources: wordwarvi-sound (game effects and voice shouts), sound-theme-freedesktop (desktop
notification sounds) and sonic-pi-samples (drums, percussion, ambient textures, loops). A file name is
the only label these packages carry, so a caption is a description derived from the name (a table
for the idiosyncratic names, word rules for the systematic Sonic Pi names) put into one of a few
sentence templates ("The sound of a metal bang."). Very short clicks are padded with silence to one
second; the long music tracks of wordwarvi are left out (they are music, not effects).
"""

from __future__ import annotations

import re
from pathlib import Path

from pipelines.demo.common import Job, finish_file, rng_for, source_path

MAX_S = 10.0  # effects are cropped to this
MIN_S = 1.0  # and padded to this
SKIP_LONGER_THAN = 20.0  # wordwarvi's background music tracks

NAMED = {  # wordwarvi + freedesktop names that no rule can read
    "UseTheSource": "a voice saying 'use the source'", "aaaah_it_burns": "a man screaming 'aaah, it burns'",
    "abducted": "a science-fiction abduction sound", "big_explosion": "a big explosion",
    "bodyslam": "a heavy body slam thud", "bombexplosion": "a bomb explosion", "clang": "a metallic clang",
    "fallingscreamhi": "a high-pitched falling scream", "flak_gun_sound": "an anti-aircraft flak gun firing",
    "flak_hit": "a flak shell hitting", "gravity_bomb": "the whistle of a falling bomb",
    "gunwheel_sound": "a rotating gun turret", "help_down_here": "a voice shouting 'help, down here'",
    "help_up_here": "a voice shouting 'help, up here'", "hohoho": "a jolly 'ho ho ho' laugh",
    "hohoho_merry_xmas": "a jolly voice saying 'ho ho ho, merry Christmas'", "jetwash": "the roar of a jet engine",
    "metalbang": "a metal bang", "missile_alarm": "a missile warning alarm", "missile_explosion": "a missile explosion",
    "missile_launch": "a missile launching", "new_ground_smack": "something smacking into the ground",
    "nice_bank_shot": "a voice saying 'nice bank shot'", "ooooof": "a grunt of pain",
    "ow_my_spine": "a voice groaning 'ow, my spine'", "radar_fail": "a radar failure beep",
    "radar_ready": "a radar ready beep", "rocket_exhaust": "roaring rocket exhaust",
    "stonebang": "stones knocking together", "synthetic_bomb": "a synthesized bomb blast",
    "synthetic_gunshot": "a synthesized gunshot", "synthetic_laser": "a synthetic laser zap",
    "synthetic_thunder_short": "a short clap of synthesized thunder", "tesla_tower": "an electric arc zapping",
    "timpani_boing": "a comic timpani boing", "toyota_celica_cardoor_sample": "a car door closing",
    "us_quarter": "a coin dropping on a hard surface", "volcano_eruption": "a rumbling volcanic eruption",
    "woohoo": "a voice cheering 'woohoo'", "yay_santa": "a crowd cheering 'yay, Santa'", "zzzt": "a short electric zap",
    "alarm-clock-elapsed": "an alarm clock ringing", "audio-test-signal": "a steady test tone",
    "audio-volume-change": "a tiny volume-change click", "bell": "a short bell ding", "camera-shutter": "a camera shutter click",
    "complete": "a soft completion chime", "device-added": "a rising notification blip",
    "device-removed": "a falling notification blip", "dialog-error": "an error alert sound",
    "dialog-information": "a brief information ping", "dialog-warning": "a warning alert tone",
    "message-new-instant": "an instant message notification chime", "message": "a message notification sound",
    "network-connectivity-established": "a connection established chime", "network-connectivity-lost": "a connection lost chime",
    "phone-incoming-call": "a telephone ringing", "phone-outgoing-busy": "a telephone busy signal",
    "phone-outgoing-calling": "a telephone ringback tone", "power-plug": "a power plug-in blip",
    "power-unplug": "a power unplug blip", "screen-capture": "a camera shutter click for a screenshot",
    "service-login": "a rising login jingle", "service-logout": "a falling logout jingle", "suspend-error": "an error buzz",
    "trash-empty": "paper being crumpled and thrown away", "window-attention": "an attention chime",
    "window-question": "a question alert chime",
    "ambi_choir": "an ambient choir pad", "ambi_lunar_land": "a spacey lunar-landing ambience",
    "ambi_sauna": "a hissing, steamy ambience", "misc_burp": "a burp", "misc_cineboom": "a cinematic boom",
    "misc_crow": "a crow cawing", "perc_till": "a cash register till ringing", "perc_door": "a door knock",
    "guit_em9": "an electric guitar strumming an E minor ninth chord", "loop_amen": "the amen drum break",
    "loop_amen_full": "the full amen drum break", "loop_3d_printer": "a 3D printer whirring rhythmically",
    "loop_safari": "a safari percussion loop", "loop_tabla": "a tabla rhythm loop",
    "bd_808": "an 808 bass drum kick", "drum_roll": "a drum roll", "drum_cowbell": "a cowbell hit",
    "drum_heavy_kick": "a heavy kick drum hit", "loop_drone_g_97": "a droning loop in G at 97 BPM",
    "guit_harmonics": "electric guitar harmonics", "guit_e_fifths": "an electric guitar playing fifths on E",
    "guit_e_slide": "an electric guitar sliding up the E string", "mehackit_robot": "a robotic, voice-like synth sound",
    "mehackit_phone": "a synthetic phone-like tone", "glitch_robot": "a glitchy robot voice",
    "loop_mehackit": "an electronic drum loop",
}
# Sonic Pi name words -> caption words ("bd" is "bass drum"); category prefixes get a phrase template.
WORDS = {"bd": "bass drum", "sn": "snare drum", "elec": "electronic", "perc": "percussive", "dnb": "drum and bass",
         "hi": "high", "lo": "low", "filt": "filtered", "woosh": "whoosh", "voxy": "vocal-like", "fuzz": "fuzzy",
         "c": "C", "g": "G", "f": "F", "e": "E"}
PREFIX = {"ambi": "{w} ambient texture", "bass": "{w} synth bass note", "bd": "bass drum kick ({w})",
          "elec": "electronic {w}", "glitch": "glitchy {w} sound", "loop": "{w} drum loop", "perc": "percussive {w}",
          "sn": "snare drum hit ({w})", "tabla": "tabla stroke ('{w}')", "vinyl": "vinyl record {w}"}
_DRUM_MODS = ("hard", "soft", "open", "closed", "pedal", "high", "low", "mid")
TEMPLATES = ("The sound of {d}.", "{D}.", "{D} can be heard.", "A short recording of {d}.", "{D}, recorded up close.",
             "A clip of {d}.")


def describe(stem: str) -> str:
    """A noun phrase for a file stem (numbered variants like metalbang3 share their description)."""
    base = re.sub(r"_?\d+$", "", stem)
    for key in (stem, base):
        if key in NAMED:
            return NAMED[key]
    if stem.startswith("audio-channel-"):
        return "a voice announcing the " + stem[len("audio-channel-"):].replace("-", " ") + " speaker channel"
    parts = [p for p in re.split(r"[_\-]", base) if p]
    prefix, rest = parts[0], [WORDS.get(p, p) for p in parts[1:] if not p.isdigit()]
    if prefix == "drum":  # drum_tom_hi_hard -> "a hard high tom hit"
        mods = [w for w in rest if w in _DRUM_MODS]
        nouns = [("bass drum" if w == "bass" else w) for w in rest if w not in _DRUM_MODS]
        return with_article(" ".join(mods + nouns + ["hit"]))
    if prefix in PREFIX:
        return with_article(PREFIX[prefix].format(w=" ".join(rest) or "hit"))
    return with_article(" ".join(WORDS.get(p, p) for p in parts) + " sound")


def with_article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def caption_for(stem: str, seed: int) -> str:
    d = describe(stem)
    t = TEMPLATES[int(rng_for(seed, "sfx-caption", stem).integers(len(TEMPLATES)))]
    return t.format(d=d, D=d[:1].upper() + d[1:])


def sfx_files() -> list[tuple[str, Path]]:
    """(source tag, path) of every usable effect, in a fixed order."""
    import soundfile as sf

    out = []
    for tag, key, pattern in (("wordwarvi", "wordwarvi", "*.ogg"), ("freedesktop", "freedesktop", "*.oga"),
                              ("sonicpi", "sonic_pi", "*.flac")):
        for p in sorted(Path(source_path(key)).glob(pattern)):
            if sf.info(str(p)).duration <= SKIP_LONGER_THAN:
                out.append((tag, p))
    return out


def sfx_job(src: str, dst: str) -> dict:
    return {"duration_s": finish_file(src, dst, rms_dbfs=-20.0, max_s=MAX_S, min_s=MIN_S)}


def plan_sfx(folder: Path, count: int | None, seed: int) -> list[tuple[dict, Job]]:
    """``count`` effects (all when ``None``), spread over the three packages."""
    files = sfx_files()
    if count is not None and count < len(files):
        # Round-robin over sources so a small corpus still has game, desktop and Sonic Pi sounds.
        by_src: dict[str, list[Path]] = {}
        for tag, p in files:
            by_src.setdefault(tag, []).append(p)
        rng = rng_for(seed, "sfx-pick")
        order = {t: [ps[i] for i in rng.permutation(len(ps))] for t, ps in sorted(by_src.items())}
        picked: list[tuple[str, Path]] = []
        while len(picked) < count:
            for tag in sorted(order):
                if order[tag] and len(picked) < count:
                    picked.append((tag, order[tag].pop(0)))
        files = sorted(picked)
    out = []
    for tag, p in files:
        utt = f"{tag}-{re.sub(r'[^A-Za-z0-9]+', '_', p.stem)}"
        item = {"utt_id": utt, "audio": f"wav/{utt}.wav", "caption": caption_for(p.stem, seed), "source": str(p)}
        out.append((item, Job(sfx_job, {"src": str(p), "dst": str(folder / item["audio"])}, cost=0.3)))
    return out

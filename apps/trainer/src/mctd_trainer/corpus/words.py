"""The TinyStories prompt recipe: simple words a small child knows, and story features.

Eldan & Li (2023) drew one verb, one noun and one adjective from ~1500 basic words and a random
subset of story features for each prompt, so that the stories cover the vocabulary and stay
diverse. These lists are a smaller hand-written vocabulary of the same kind.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


VERBS: tuple[str, ...] = _words(
    """
    jump run walk swim fly climb dance sing play hide seek find lose share help hug kiss smile
    laugh cry shout whisper listen look watch see hear smell taste touch push pull throw catch
    kick roll bounce build break fix paint draw write read count cook bake eat drink bite chew
    sleep wake dream wish hope want need like love hate fear worry wonder think know learn teach
    show tell ask answer call wave clap knock open close carry hold drop pick plant grow water
    wash clean dry brush comb wear fold cut glue sew knit tie race chase follow lead wait stop
    start finish try fail win visit travel explore discover save rescue protect guard feed pet
    ride drive sail float sink splash dig fill empty pour spill mix stir shake spin slide swing
    skip hop crawl sneeze yawn giggle tickle whistle hum buzz bark meow roar shine sparkle glow
    melt freeze borrow give trade
    """
)

NOUNS: tuple[str, ...] = _words(
    """
    dog cat bird fish frog bear rabbit mouse duck horse cow pig sheep goat lion tiger monkey
    elephant giraffe turtle snail bee butterfly owl fox wolf squirrel puppy kitten dragon
    unicorn ball kite doll truck car train boat plane bike wagon drum horn bell book box bag cup
    bowl plate spoon fork hat coat shoe sock scarf glove dress shirt bed chair table door window
    house garden park tree flower leaf grass rock stone stick river lake pond sea beach sand
    shell wave hill mountain cave forest field farm barn nest egg apple banana cake cookie bread
    cheese soup milk juice candy pie carrot pea orange lemon grape berry honey jam sun moon star
    cloud rain snow wind rainbow storm sky night day morning school teacher friend mom dad
    sister brother baby grandma grandpa king queen princess prince knight robot ghost monster
    pirate clown farmer doctor crayon paper pencil brush paint puzzle block blanket pillow lamp
    clock key map treasure coin ring crown wand jar basket bucket shovel swing slide rope ladder
    bridge road tent camp fire
    """
)

ADJECTIVES: tuple[str, ...] = _words(
    """
    big small tiny huge tall short long round soft hard smooth rough warm cold hot wet dry clean
    dirty happy sad angry scared brave kind mean funny silly shy proud tired sleepy hungry
    thirsty quiet loud fast slow new old young pretty ugly shiny dark bright colorful red blue
    green yellow pink purple brown white black golden sweet sour yummy fluffy fuzzy sticky bumpy
    curious gentle careful lazy busy lucky lonely friendly helpful polite rude clever foolish
    strong weak heavy light empty full broken magic special strange spooky cozy noisy calm wild
    grumpy cheerful excited surprised worried jolly fancy plain spotty striped furry muddy sunny
    rainy windy snowy
    """
)

FEATURES: tuple[str, ...] = (
    "the story should contain at least one dialogue",
    "the story has a bad ending",
    "the story has a moral value",
    "something unexpected happens in the story (a plot twist)",
    "the story uses foreshadowing",
    "the story has some form of conflict in it",
    "the story has a happy ending",
)

PROMPT = (
    "Write a short story (3-5 paragraphs) which only uses very simple words that a 3 year old "
    'child would understand. The story should use the verb "{verb}", the noun "{noun}" and the '
    'adjective "{adjective}". The story should have the following features: {features}. '
    "Remember to only use simple words!"
)

"""A small hand-written corpus for document-search quality floors: 30 documents on distinct topics,
three paragraphs each, and per document one query that paraphrases one of its paragraphs (mostly
not the first) with few of its words."""

from __future__ import annotations

# name: (title, paragraphs, query)
CORPUS: dict[str, tuple[str, list[str], str]] = {
    "sourdough": ("Baking sourdough bread", [
        "Sourdough bread is leavened with a starter, a fermented mix of flour and water full of wild yeast.",
        "The starter must be fed daily; a lively one doubles in size within a few hours of feeding.",
        "A long, cold proof in the refrigerator develops the tangy flavour and an open crumb."],
        "how often do I need to give flour and water to my levain to keep it active?"),
    "tides": ("Ocean tides", [
        "Tides are the regular rise and fall of sea level along coastlines.",
        "They are caused mainly by the gravitational pull of the Moon and, to a lesser degree, the Sun.",
        "Spring tides, with the largest range, happen when the Sun and Moon line up at new and full moon."],
        "why does the water at the beach go up and down twice a day? lunar attraction"),
    "photosynthesis": ("Photosynthesis", [
        "Plants, algae and some bacteria turn light into chemical energy.",
        "In the chloroplasts, chlorophyll absorbs sunlight to split water and release oxygen.",
        "The Calvin cycle then fixes carbon dioxide from the air into sugars."],
        "which green pigment inside leaf cells captures the energy of the sun?"),
    "marathon": ("Training for a marathon", [
        "A marathon is a road race of 42.195 kilometres.",
        "Most training plans build the weekly distance slowly over sixteen to twenty weeks.",
        "Runners taper in the final weeks, cutting mileage so the legs are fresh on race day."],
        "should I reduce my running volume shortly before the big 26 mile event?"),
    "vaccines": ("How vaccines work", [
        "Vaccines train the immune system to recognise a pathogen without causing the disease.",
        "They contain weakened or inactivated germs, or instructions for making one of their proteins.",
        "Memory cells then respond quickly if the real infection ever arrives."],
        "how does an immunisation teach the body's defences to fight a germ later?"),
    "bitcoin": ("Bitcoin and the blockchain", [
        "Bitcoin is a digital currency that works without a central bank.",
        "Transactions are recorded on a public ledger called the blockchain, copied across many computers.",
        "Miners compete to add blocks by solving a costly proof-of-work puzzle."],
        "who verifies cryptocurrency payments and why does it use so much electricity?"),
    "coffee": ("Brewing coffee", [
        "Coffee beans are the roasted seeds of the coffee cherry.",
        "Espresso forces hot water through finely ground coffee at about nine bars of pressure.",
        "A French press steeps coarse grounds for four minutes before a metal mesh is pushed down."],
        "which brewing method uses a plunger and a long steep?"),
    "volcano": ("Volcanoes", [
        "A volcano is an opening in the Earth's crust where molten rock reaches the surface.",
        "Magma rising from the mantle collects in chambers beneath the mountain.",
        "Explosive eruptions throw ash high into the atmosphere and can cool the climate for a year."],
        "can a big eruption make the weather colder around the world?"),
    "chess": ("Chess openings", [
        "Chess is a board game for two players on an eight by eight grid.",
        "The opening phase aims to develop pieces, control the centre and castle the king to safety.",
        "Popular openings include the Sicilian Defence and the Queen's Gambit."],
        "what should I try to do in the first moves of a game of chess?"),
    "honeybees": ("Honey bees", [
        "Honey bees live in colonies of tens of thousands of workers with a single queen.",
        "Foragers tell their sisters where flowers are with a waggle dance.",
        "Nectar is stored in wax comb and fanned until it thickens into honey."],
        "how do insects in a hive communicate the location of food sources?"),
    "black_holes": ("Black holes", [
        "A black hole is a region of space where gravity is so strong that nothing, not even light, escapes.",
        "They form when very massive stars collapse at the end of their lives.",
        "The boundary beyond which escape is impossible is called the event horizon."],
        "what happens to huge stars when they die?"),
    "tax_returns": ("Filing a tax return", [
        "A tax return reports income, deductions and credits to the revenue authority.",
        "Employees usually receive a form from their employer summarising wages and tax withheld.",
        "Late filing can lead to penalties and interest on the amount owed."],
        "what happens if I send my income declaration after the deadline?"),
    "guitar": ("Learning the guitar", [
        "The guitar usually has six strings tuned E A D G B E.",
        "Beginners start with open chords such as G, C and D before learning barre chords.",
        "Calluses on the fingertips form after a few weeks of regular practice and stop the pain."],
        "my fingers hurt when I press the strings, will that stop?"),
    "composting": ("Composting at home", [
        "Compost is decomposed organic matter used to enrich garden soil.",
        "A good heap mixes green material like kitchen scraps with brown material like dry leaves.",
        "Turning the pile adds oxygen and speeds up the work of microbes."],
        "why should I stir my heap of rotting garden waste?"),
    "rome": ("The fall of Rome", [
        "The Western Roman Empire ended in 476 when the last emperor was deposed.",
        "Historians point to economic trouble, overreliance on mercenaries and political instability.",
        "The Eastern Empire, later called Byzantium, lasted until 1453."],
        "how long did the eastern half of the ancient empire survive?"),
    "sleep": ("Why we sleep", [
        "Adults need roughly seven to nine hours of sleep a night.",
        "During deep sleep the brain clears waste products and consolidates memories.",
        "Screens before bed emit blue light that delays the release of melatonin."],
        "does using my phone late at night make it harder to fall asleep?"),
    "solar_panels": ("Solar panels", [
        "Photovoltaic panels convert sunlight directly into electricity.",
        "Silicon cells create a current when photons knock electrons loose.",
        "An inverter turns the direct current into alternating current for the home."],
        "what device changes DC from the roof modules into AC for household sockets?"),
    "python_lists": ("Python lists", [
        "A list in Python is an ordered, mutable sequence of items.",
        "Appending to the end is fast, but inserting at the front shifts every element.",
        "List comprehensions build a new list from an iterable in a single expression."],
        "why is adding an element at index zero slow in this programming language?"),
    "elephants": ("Elephants", [
        "Elephants are the largest living land animals.",
        "Their trunks, a fusion of nose and upper lip, can lift heavy logs or pick up a single peanut.",
        "Herds are led by the oldest female, the matriarch, who remembers distant water holes."],
        "who leads a group of these big grey mammals and finds water in droughts?"),
    "origami": ("Origami", [
        "Origami is the Japanese art of folding paper into shapes.",
        "Traditional models use a single square sheet with no cuts or glue.",
        "The paper crane is the most famous model and a symbol of peace."],
        "what is the best known folded bird that stands for peace?"),
    "earthquakes": ("Earthquakes", [
        "Earthquakes happen when stress built up along a fault is suddenly released.",
        "Seismometers record the waves, and the magnitude scale measures the energy released.",
        "Buildings on soft, water-soaked soil can sink as the ground liquefies."],
        "why do houses on wet sandy ground collapse when the earth shakes?"),
    "wine": ("Making wine", [
        "Wine is made by fermenting crushed grapes.",
        "Yeast consumes the grape sugars and produces alcohol and carbon dioxide.",
        "Red wine gets its colour from fermenting the juice together with the skins."],
        "where does the colour of red vino come from?"),
    "mars": ("Mars", [
        "Mars is the fourth planet from the Sun, often called the Red Planet.",
        "Its red colour comes from iron oxide, rust, in the dust covering the surface.",
        "Rovers such as Curiosity and Perseverance search for signs of ancient microbial life."],
        "which robots drive around the red world looking for traces of past life?"),
    "knitting": ("Knitting", [
        "Knitting makes fabric by pulling loops of yarn through other loops with two needles.",
        "The knit stitch and the purl stitch are the basis of nearly every pattern.",
        "Gauge, the number of stitches per ten centimetres, decides whether a sweater will fit."],
        "how do I make sure a jumper I am making comes out the right size?"),
    "antibiotics": ("Antibiotics", [
        "Antibiotics are medicines that kill bacteria or stop them from multiplying.",
        "They do not work against viruses such as those causing colds and flu.",
        "Overuse lets resistant strains survive and spread."],
        "will penicillin help with a common cold?"),
    "bridges": ("Suspension bridges", [
        "A suspension bridge hangs its deck from cables strung between tall towers.",
        "The main cables are anchored in massive blocks of concrete at each end.",
        "Wind can make a deck oscillate, as the Tacoma Narrows bridge showed in 1940."],
        "what famous span collapsed after swaying in strong gusts?"),
    "tea": ("Tea", [
        "All true tea comes from the leaves of Camellia sinensis.",
        "Green tea is heated soon after picking to stop oxidation, while black tea is fully oxidised.",
        "Water just off the boil suits black tea, but green tea prefers about eighty degrees."],
        "what temperature should the water be for a cup of green leaves?"),
    "recycling": ("Recycling plastics", [
        "Plastics are labelled with resin codes from one to seven.",
        "PET bottles, code one, are the most widely recycled plastic.",
        "Food residue contaminates batches, so containers should be rinsed first."],
        "do I need to wash yoghurt pots before putting them in the recycling bin?"),
    "penguins": ("Emperor penguins", [
        "Emperor penguins are the largest penguins and breed in the Antarctic winter.",
        "The male balances the egg on his feet under a fold of skin for about two months.",
        "Huddles of thousands of birds share warmth through blizzards at minus forty."],
        "which parent keeps the egg warm, and where does he hold it?"),
    "mortgages": ("Mortgages", [
        "A mortgage is a loan secured on a property.",
        "With a fixed rate the monthly payment stays the same for the agreed term.",
        "A variable rate follows the central bank's base rate, so payments can rise."],
        "can my monthly home loan repayment go up if interest rates increase?"),
}

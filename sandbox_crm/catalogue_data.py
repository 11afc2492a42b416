"""Fixed reference data for the sandbox generator: company names, sites, departments, products.

Everything here is plain data in a fixed order, so that the generator's seeded choices over it
give the same sandbox on every machine. Prices are whole Hong Kong dollars.
"""

from __future__ import annotations

from typing import NamedTuple

COMPANY_NAMES: dict[str, tuple[str, ...]] = {
    "retail": (
        "Harbourview Living Ltd.",
        "Lion Rock Home & Life Ltd.",
        "Victoria Lane Stores Ltd.",
        "Pearl Delta Lifestyle Co. Ltd.",
        "Kowloon Bay Trading Co. Ltd.",
    ),
    "jewellery": (
        "Jade Crescent Jewellery Co.",
        "Golden Phoenix Jewellery Ltd.",
        "Starlight Pearl & Gold Co. Ltd.",
        "Imperial Orchid Jewellers Ltd.",
        "Lucky Dragon Goldsmith Co. Ltd.",
    ),
}

# The contact points each direct-marketing channel reaches, in order of preference (the same
# rule as the operations layer): a contact point is opted out while direct marketing is
# withdrawn on any channel that reaches it, so a phone-call opt-out also flags the mobile.
CHANNEL_CONTACT_KINDS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "sms": ("mobile",),
    "phone": ("phone", "mobile"),
    "post": ("address",),
}

# Dealers in precious metals and stones must identify customers at or above this amount.
AML_THRESHOLD_HKD = 120_000

DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("marketing", "Marketing"),
    ("sales", "Sales"),
    ("customer_service", "Customer Service"),
    ("finance", "Finance"),
    ("it", "IT"),
    ("hr", "Human Resources"),
    ("store_operations", "Store Operations"),
    ("management", "Management"),
)

# (department code, how many staff, titles to draw from). The first title of each department
# goes to its head. The generator adds up to one more per department (28-35 staff) plus the
# trainee.
STAFF_PLAN: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("management", 2, ("Managing Director", "Operations Director")),
    ("marketing", 4, ("Marketing Manager", "CRM Marketing Executive", "Marketing Officer")),
    ("sales", 4, ("Sales Manager", "Key Account Executive", "Sales Executive")),
    ("customer_service", 4, ("Customer Service Manager", "Senior CRM Officer", "CRM Officer")),
    ("finance", 2, ("Finance Manager", "Accounts Officer")),
    ("it", 3, ("IT Manager", "Systems Administrator", "IT Support Officer")),
    ("hr", 2, ("HR Manager", "HR Officer")),
    ("store_operations", 7, ("Area Manager", "Store Manager", "Senior Sales Associate")),
)


class Site(NamedTuple):
    """A possible branch location: code suffix, place name, district, far from the city."""

    code: str
    place: str
    district: str
    outlying: bool = False


STORE_SITES: tuple[Site, ...] = (
    Site("CWB", "Causeway Bay", "Wan Chai"),
    Site("CEN", "Central", "Central and Western"),
    Site("TKS", "Tai Koo", "Eastern"),
    Site("ABD", "Aberdeen", "Southern"),
    Site("TST", "Tsim Sha Tsui", "Yau Tsim Mong"),
    Site("MKK", "Mong Kok", "Yau Tsim Mong"),
    Site("SSP", "Sham Shui Po", "Sham Shui Po"),
    Site("KLB", "Kowloon Bay", "Kwun Tong"),
    Site("KLC", "Kowloon City", "Kowloon City"),
    Site("STN", "Sha Tin", "Sha Tin"),
    Site("TWN", "Tsuen Wan", "Tsuen Wan"),
    Site("YLG", "Yuen Long", "Yuen Long", outlying=True),
    Site("TMN", "Tuen Mun", "Tuen Mun", outlying=True),
    Site("TPO", "Tai Po", "Tai Po"),
    Site("TKO", "Tseung Kwan O", "Sai Kung"),
    Site("TCH", "Tung Chung", "Islands", outlying=True),
    Site("SHS", "Sheung Shui", "North", outlying=True),
)

WAREHOUSE_SITE = Site("WHK", "Kwai Chung", "Kwai Tsing", outlying=True)
HEAD_OFFICE_SITES: dict[str, Site] = {
    "retail": Site("HOK", "Kwun Tong", "Kwun Tong"),
    "jewellery": Site("HOH", "Hung Hom", "Kowloon City"),
}

# Public address ranges reserved for documentation (RFC 5737), so no real network is named.
IP_RANGES: tuple[str, ...] = ("203.0.113", "198.51.100", "192.0.2")

CUSTOMER_NOTES: tuple[str, ...] = (
    "Prefers to be contacted after 6 pm on weekdays.",
    "Asked for gift wrapping on every purchase.",
    "Complained about a late home delivery; resolved with a HK$100 coupon.",
    "Regular customer at the weekend; likes new arrivals.",
    "Requested invoices in Chinese.",
    "Moved house recently; confirmed new address by phone.",
    "Collected a repaired item; satisfied with the service.",
    "Interested in the membership upgrade; follow up next quarter.",
    "Returned an item within 7 days; refund processed to card.",
    "Prefers WhatsApp for delivery updates, not marketing.",
    "Buys gifts for Chinese New Year every year.",
    "Asked how to update their mobile number online.",
)


class ProductLine(NamedTuple):
    """A product the company sells: name and list price in HKD."""

    name: str
    price_hkd: int


# category -> (SKU code, products). Retail: general lines of a household and lifestyle chain.
RETAIL_PRODUCTS: dict[str, tuple[str, tuple[ProductLine, ...]]] = {
    "Home": (
        "HOM",
        (
            ProductLine("Cotton Bath Towel Set (3 pcs)", 199),
            ProductLine("Memory Foam Pillow", 329),
            ProductLine("Linen Duvet Cover, Queen", 589),
            ProductLine("Blackout Curtain Panel 140x230cm", 279),
            ProductLine("Ceramic Table Lamp", 459),
            ProductLine("Bamboo Storage Box, Large", 129),
            ProductLine("Aroma Diffuser with Timer", 268),
            ProductLine("Anti-slip Bath Mat", 89),
            ProductLine("Wall Clock, Oak Frame", 199),
            ProductLine("Foldable Laundry Basket", 79),
            ProductLine("Dehumidifier Refill Pack (6 pcs)", 59),
            ProductLine("Scented Candle, Sandalwood", 139),
        ),
    ),
    "Kitchen": (
        "KIT",
        (
            ProductLine("Stainless Steel Wok 32cm", 388),
            ProductLine("Non-stick Frying Pan 28cm", 299),
            ProductLine("Rice Cooker 1.8L", 899),
            ProductLine("Electric Kettle 1.7L", 329),
            ProductLine("Glass Food Container Set (5 pcs)", 219),
            ProductLine("Chef's Knife 20cm", 459),
            ProductLine("Bamboo Chopping Board", 149),
            ProductLine("Porcelain Rice Bowl Set (6 pcs)", 168),
            ProductLine("Vacuum Flask 500ml", 249),
            ProductLine("Air Fryer 4L", 1180),
            ProductLine("Dim Sum Steamer Basket Set", 99),
            ProductLine("Hand Blender with Whisk", 529),
        ),
    ),
    "Beauty": (
        "BEA",
        (
            ProductLine("Hydrating Face Serum 30ml", 368),
            ProductLine("Sunscreen SPF50 PA++++ 50ml", 159),
            ProductLine("Sheet Mask Box (10 pcs)", 129),
            ProductLine("Gentle Foaming Cleanser 150ml", 119),
            ProductLine("Night Repair Cream 50ml", 498),
            ProductLine("Lip Balm Trio", 89),
            ProductLine("Micellar Cleansing Water 400ml", 139),
            ProductLine("Eye Cream 15ml", 329),
            ProductLine("Hand Cream Gift Set", 199),
            ProductLine("Makeup Brush Set (8 pcs)", 259),
            ProductLine("Vitamin C Brightening Toner 200ml", 229),
            ProductLine("Hair Repair Mask 250ml", 169),
        ),
    ),
    "Electronics Accessories": (
        "ELA",
        (
            ProductLine("USB-C Fast Charger 65W", 329),
            ProductLine("Power Bank 10000mAh", 259),
            ProductLine("Wireless Earbuds", 699),
            ProductLine("Braided USB-C Cable 2m", 99),
            ProductLine("Bluetooth Speaker, Waterproof", 459),
            ProductLine("Phone Case, Clear", 129),
            ProductLine("Tempered Glass Screen Protector", 89),
            ProductLine("Wireless Charging Pad", 199),
            ProductLine("Universal Travel Adapter", 179),
            ProductLine("Smart Plug (2 pcs)", 219),
            ProductLine("Laptop Sleeve 14 inch", 239),
            ProductLine("Noise-cancelling Headphones", 1599),
        ),
    ),
    "Apparel": (
        "APP",
        (
            ProductLine("Cotton Crew-neck T-shirt", 99),
            ProductLine("Ultra-light Down Jacket", 599),
            ProductLine("Linen Shirt, Long Sleeve", 299),
            ProductLine("Stretch Chino Trousers", 349),
            ProductLine("Merino Wool Sweater", 459),
            ProductLine("Rain Poncho, Packable", 129),
            ProductLine("Sports Socks (5 pairs)", 79),
            ProductLine("Canvas Tote Bag", 89),
            ProductLine("Pyjama Set, Cotton", 259),
            ProductLine("Baseball Cap", 119),
            ProductLine("Compact Umbrella", 149),
            ProductLine("Slip-on Sneakers", 399),
        ),
    ),
    "Toys": (
        "TOY",
        (
            ProductLine("Wooden Building Blocks (100 pcs)", 299),
            ProductLine("Plush Panda, 40cm", 199),
            ProductLine("Jigsaw Puzzle, Victoria Harbour (1000 pcs)", 169),
            ProductLine("Remote Control Car", 359),
            ProductLine("Magnetic Tiles Set (60 pcs)", 429),
            ProductLine("Kids' Art Set", 149),
            ProductLine("Board Game, Family Edition", 259),
            ProductLine("Bath Toys Set", 99),
            ProductLine("Scooter for Kids", 499),
            ProductLine("Science Kit, Crystal Growing", 189),
            ProductLine("Doll House, Wooden", 899),
            ProductLine("Card Game, Party Pack", 79),
        ),
    ),
    "Personal Care": (
        "PCR",
        (
            ProductLine("Electric Toothbrush", 399),
            ProductLine("Shampoo 750ml", 79),
            ProductLine("Body Wash, Green Tea 1L", 69),
            ProductLine("Hair Dryer, Ionic", 599),
            ProductLine("Digital Thermometer", 129),
            ProductLine("Surgical Masks (50 pcs)", 49),
            ProductLine("Hand Sanitiser 500ml", 59),
            ProductLine("Electric Shaver", 799),
            ProductLine("Massage Gun", 899),
            ProductLine("Bathroom Scale, Smart", 299),
            ProductLine("Cotton Pads (3 packs)", 39),
            ProductLine("Foot Spa", 459),
        ),
    ),
    "Stationery": (
        "STN",
        (
            ProductLine("A5 Dotted Notebook", 59),
            ProductLine("Gel Pen Set (12 colours)", 69),
            ProductLine("Fountain Pen, Steel Nib", 259),
            ProductLine("Desk Organiser, Bamboo", 149),
            ProductLine("Red Packet Set, Lunar New Year (50 pcs)", 39),
            ProductLine("Calligraphy Brush Set", 189),
            ProductLine("Photo Album, Linen", 169),
            ProductLine("Weekly Planner 2026", 89),
            ProductLine("Washi Tape Set (10 rolls)", 79),
            ProductLine("Greeting Cards (12 pcs)", 59),
            ProductLine("School Backpack", 329),
            ProductLine("Scientific Calculator", 199),
        ),
    ),
    "Sports & Outdoor": (
        "SPO",
        (
            ProductLine("Yoga Mat 6mm", 229),
            ProductLine("Hiking Backpack 30L", 599),
            ProductLine("Trekking Poles (pair)", 389),
            ProductLine("Insulated Water Bottle 750ml", 199),
            ProductLine("Resistance Bands Set", 149),
            ProductLine("Badminton Racket Set", 329),
            ProductLine("Camping Chair, Foldable", 259),
            ProductLine("Beach Towel, Quick-dry", 159),
            ProductLine("Dumbbell Set 10kg", 459),
            ProductLine("Swimming Goggles", 129),
            ProductLine("Running Armband", 99),
            ProductLine("Tent, 2-person", 1290),
        ),
    ),
    "Food & Gifts": (
        "FDG",
        (
            ProductLine("Egg Rolls Gift Tin", 168),
            ProductLine("Premium Oolong Tea 150g", 238),
            ProductLine("Dried Shiitake Mushrooms 300g", 198),
            ProductLine("Mooncake Gift Box (4 pcs)", 388),
            ProductLine("Almond Cookies Tin", 128),
            ProductLine("Bird's Nest Drink Gift Set (6 bottles)", 488),
            ProductLine("Lunar New Year Candy Box", 268),
            ProductLine("Pu'er Tea Cake 357g", 458),
            ProductLine("Dried Scallops 250g", 888),
            ProductLine("Hamper, Festive Selection", 1288),
            ProductLine("Chocolate Truffles (24 pcs)", 218),
            ProductLine("XO Sauce 220g", 158),
        ),
    ),
}

# Jewellery: fine jewellery, jade, gold by weight and watches. Prices are list prices; several
# lines sit at or above the HK$120,000 threshold of the anti-money-laundering regime.
JEWELLERY_PRODUCTS: dict[str, tuple[str, tuple[ProductLine, ...]]] = {
    "Rings": (
        "RNG",
        (
            ProductLine("18K White Gold Diamond Solitaire Ring 0.30ct", 16800),
            ProductLine("18K White Gold Diamond Solitaire Ring 0.50ct", 32800),
            ProductLine("Platinum Diamond Solitaire Ring 1.00ct", 128000),
            ProductLine("Platinum Diamond Solitaire Ring 2.01ct", 438000),
            ProductLine("18K Rose Gold Eternity Band", 12800),
            ProductLine("18K Yellow Gold Wedding Band, Pair", 9800),
            ProductLine("Ruby and Diamond Cluster Ring", 45800),
            ProductLine("Sapphire Halo Ring, 18K White Gold", 58800),
            ProductLine("Emerald Cocktail Ring", 86800),
            ProductLine("Stackable Gold Ring, 18K", 3280),
            ProductLine("Men's Signet Ring, 18K", 11800),
            ProductLine("Pearl Ring, Akoya 8mm", 4680),
            ProductLine("Three-stone Diamond Ring 1.20ct tw", 152000),
            ProductLine("Promise Ring, Diamond Accent", 2880),
            ProductLine("Pink Sapphire Ring, 18K Rose Gold", 13800),
        ),
    ),
    "Necklaces": (
        "NEC",
        (
            ProductLine("18K Gold Diamond Pendant Necklace", 8800),
            ProductLine("Diamond Tennis Necklace 5.00ct", 268000),
            ProductLine("Akoya Pearl Strand 7.5mm", 23800),
            ProductLine("South Sea Pearl Necklace 11mm", 98000),
            ProductLine("18K White Gold Chain 45cm", 6980),
            ProductLine("Heart Pendant, 18K Rose Gold", 4280),
            ProductLine("Zodiac Pendant, 18K Yellow Gold", 3680),
            ProductLine("Sapphire Drop Necklace", 36800),
            ProductLine("Emerald and Diamond Riviera", 188000),
            ProductLine("Initial Pendant, 18K", 2980),
            ProductLine("Tahitian Pearl Pendant", 7880),
            ProductLine("Lariat Necklace, Diamond", 29800),
            ProductLine("Choker, 18K White Gold Diamond", 54800),
            ProductLine("Cross Pendant, Diamond", 9680),
            ProductLine("Layered Chain Necklace, 18K", 5480),
        ),
    ),
    "Earrings": (
        "EAR",
        (
            ProductLine("Diamond Stud Earrings 0.50ct tw", 18800),
            ProductLine("Diamond Stud Earrings 1.00ct tw", 48800),
            ProductLine("Pearl Stud Earrings, Akoya", 2980),
            ProductLine("18K Gold Hoop Earrings", 5680),
            ProductLine("Ruby Drop Earrings", 26800),
            ProductLine("Chandelier Earrings, Diamond", 128800),
            ProductLine("Sapphire Stud Earrings", 15800),
            ProductLine("Jade Drop Earrings, 18K", 8800),
            ProductLine("Huggie Earrings, Diamond", 7680),
            ProductLine("Kids' Gold Stud Earrings", 1680),
            ProductLine("Tahitian Pearl Earrings", 9880),
            ProductLine("Ear Cuff, 18K Rose Gold", 3280),
            ProductLine("Emerald Halo Earrings", 42800),
            ProductLine("Tassel Earrings, 18K", 6280),
            ProductLine("Linear Drop Earrings, Diamond", 35800),
        ),
    ),
    "Bracelets": (
        "BRC",
        (
            ProductLine("Diamond Tennis Bracelet 3.00ct", 138000),
            ProductLine("18K Gold Bangle, Polished", 15800),
            ProductLine("Charm Bracelet, 18K", 6880),
            ProductLine("Pearl Bracelet, Freshwater", 1980),
            ProductLine("Red String Bracelet with Gold Bead", 980),
            ProductLine("Sapphire Line Bracelet", 48800),
            ProductLine("Baby Gold Bracelet", 2680),
            ProductLine("Cuff Bracelet, 18K White Gold", 22800),
            ProductLine("Chain Bracelet, 18K Rose Gold", 4580),
            ProductLine("Ruby Tennis Bracelet", 68800),
            ProductLine("Pixiu Bead Bracelet, 24K", 3880),
            ProductLine("Men's Link Bracelet, 18K", 28800),
            ProductLine("Infinity Bracelet, Diamond", 8680),
            ProductLine("Bangle, Diamond Pave", 98000),
            ProductLine("Evil Eye Bracelet, 18K", 3180),
        ),
    ),
    "Jade": (
        "JAD",
        (
            ProductLine("Jadeite Bangle, Type A, Light Green", 28000),
            ProductLine("Jadeite Bangle, Type A, Imperial Green", 380000),
            ProductLine("Jadeite Bangle, Type A, Lavender", 68000),
            ProductLine("Jadeite Guanyin Pendant, 18K Bail", 12800),
            ProductLine("Jadeite Buddha Pendant", 9800),
            ProductLine("Jadeite Ring, Cabochon, 18K", 45800),
            ProductLine("Jadeite Bead Necklace", 168000),
            ProductLine("Jadeite Peace Buckle Pendant", 6800),
            ProductLine("Jadeite Earrings, Diamond Halo", 38800),
            ProductLine("Jadeite Gourd Pendant", 5280),
            ProductLine("Nephrite Jade Bangle", 4880),
            ProductLine("Jadeite Pixiu Pendant", 7680),
            ProductLine("Jadeite Ruyi Brooch", 22800),
            ProductLine("Jadeite Cabochon Ring, Imperial Green", 258000),
            ProductLine("Jadeite Bead Bracelet", 18800),
        ),
    ),
    "Gold": (
        "GLD",
        (
            ProductLine("999.9 Gold Dragon and Phoenix Bangle Set, 5 taels", 152000),
            ProductLine("999.9 Gold Wedding Bangles, Pair, 2 taels", 62800),
            ProductLine("999.9 Gold Kua Wedding Set, 10 taels", 298000),
            ProductLine("999.9 Gold Bar, 1 tael", 31800),
            ProductLine("999.9 Gold Zodiac Figurine", 15800),
            ProductLine("999.9 Gold Baby Lock Pendant", 4680),
            ProductLine("999.9 Gold Abacus Pendant", 3880),
            ProductLine("999.9 Gold Fortune Cat Ornament", 24800),
            ProductLine("999.9 Gold Coin, Year of the Horse", 9880),
            ProductLine("999.9 Gold Double Happiness Necklace", 18800),
            ProductLine("999.9 Gold Rice Bowl and Chopsticks Set", 128000),
            ProductLine("999.9 Gold Chain, Heavy, 1.5 taels", 46800),
            ProductLine("999.9 Gold Bead", 880),
            ProductLine("999.9 Gold Bangle, Hammered", 22800),
            ProductLine("999.9 Gold Wealth Tree Ornament", 86800),
        ),
    ),
    "Watches": (
        "WAT",
        (
            ProductLine("Swiss Automatic Dress Watch, Steel", 23800),
            ProductLine("Swiss Chronograph, Steel", 48800),
            ProductLine("Diver's Watch, Ceramic Bezel", 68800),
            ProductLine("Perpetual Calendar, 18K Rose Gold", 428000),
            ProductLine("Ladies' Diamond Bezel Watch", 86800),
            ProductLine("GMT Watch, Steel and Gold", 138000),
            ProductLine("Quartz Dress Watch, Ladies'", 8800),
            ProductLine("Skeleton Automatic, Titanium", 118000),
            ProductLine("Tourbillon, Platinum", 880000),
            ProductLine("Pilot's Watch, Steel", 38800),
            ProductLine("Moonphase Watch, 18K White Gold", 246000),
            ProductLine("Smart Hybrid Watch", 3880),
            ProductLine("Couple Watch Set, Quartz", 12800),
            ProductLine("Annual Calendar, Steel", 96800),
            ProductLine("Gem-set Ladies' Watch, 18K", 186000),
        ),
    ),
    "Pearls": (
        "PRL",
        (
            ProductLine("Freshwater Pearl Strand 7mm", 2680),
            ProductLine("Akoya Pearl Set, Necklace and Earrings", 26800),
            ProductLine("South Sea Golden Pearl Pendant", 15800),
            ProductLine("Tahitian Pearl Strand 10mm", 58800),
            ProductLine("Baroque Pearl Brooch", 6880),
            ProductLine("Pearl Cufflinks, 18K", 4280),
            ProductLine("Pearl Hairpin, Silver", 1280),
            ProductLine("Akoya Pearl Bracelet", 8680),
            ProductLine("Keshi Pearl Earrings", 3880),
            ProductLine("South Sea Pearl Strand 13mm", 168000),
            ProductLine("Pearl Tiara, Bridal", 48800),
            ProductLine("Mabe Pearl Ring", 5680),
            ProductLine("Pearl Y-necklace, 18K", 7280),
            ProductLine("Pearl Anklet, Freshwater", 980),
            ProductLine("Pearl and Diamond Drop Pendant", 19800),
        ),
    ),
}

PRODUCTS_BY_PROFILE: dict[str, dict[str, tuple[str, tuple[ProductLine, ...]]]] = {
    "retail": RETAIL_PRODUCTS,
    "jewellery": JEWELLERY_PRODUCTS,
}

# Notice text pieces per profile; the generator assembles the PICS versions from them.
MARKETING_CLASSES: dict[str, tuple[str, ...]] = {
    "retail": ("household goods and lifestyle products offers", "membership events"),
    "jewellery": ("jewellery and watch offers", "VIP events"),
}

NOTICE_PURPOSES: tuple[str, ...] = (
    "processing orders, deliveries, repairs and after-sales service",
    "administering the membership and loyalty programme",
    "handling enquiries and complaints",
    "statistical analysis of sales to improve our products and services",
)

NOTICE_TRANSFEREES: tuple[str, ...] = (
    "delivery and logistics contractors",
    "IT, mailing and SMS service providers acting as our agents",
    "banks and payment processors",
    "regulators and law enforcement agencies where required by law",
)

OBLIGATORY_FIELDS: tuple[str, ...] = ("name", "mobile")
VOLUNTARY_FIELDS: tuple[str, ...] = ("email", "address", "gender", "birth_month")
DM_DATA_KINDS: tuple[str, ...] = ("name", "email", "mobile", "address")

# Past campaigns: (name, objective, channel, marketing class index, tiers targeted or empty
# for all tiers, months before today). Subjects and bodies are built by the generator.
CAMPAIGNS: dict[str, tuple[tuple[str, str, str, int, tuple[str, ...], int], ...]] = {
    "retail": (
        ("Lunar New Year Home Refresh", "Drive January store traffic", "email", 0, (), 14),
        ("Summer Kitchen Sale", "Clear summer kitchen stock", "sms", 0, (), 9),
        (
            "Members' Night at Causeway Bay",
            "Reward loyal members",
            "email",
            1,
            ("gold", "platinum"),
            6,
        ),
        ("Mid-Autumn Gift Guide", "Grow gift hamper sales", "email", 0, (), 5),
        (
            "Christmas Early Bird",
            "Lift December basket size",
            "sms",
            0,
            ("silver", "gold", "platinum"),
            3,
        ),
    ),
    "jewellery": (
        ("Lunar New Year Gold Collection", "Gold sales before the new year", "email", 0, (), 14),
        ("Wedding Season Jadeite Showcase", "Bridal jade and gold sets", "email", 0, (), 10),
        (
            "VIP Private Viewing: Watches",
            "Invite top clients to a private viewing",
            "sms",
            1,
            ("gold", "platinum"),
            7,
        ),
        ("Mother's Day Pearls", "Pearl gift sales", "sms", 0, (), 4),
        (
            "Christmas Diamond Event",
            "Diamond jewellery for the holidays",
            "email",
            1,
            ("silver", "gold", "platinum"),
            2,
        ),
    ),
}

# --- the jewellery profile's own reference data (the jewellery area) --------------------------

# Branches a Hong Kong jewellery chain runs away from its head office network: they connect
# remotely and reach the CRM only from their allow-listed addresses.
# (code, name, district, region, allow-list)
JEWELLERY_REMOTE_BRANCHES: tuple[tuple[str, str, str, str, str], ...] = (
    ("MAC", "Macau Senado Square Shop", "Macau", "Macau", "202.175.8.0/29"),
    ("LWU", "Lo Wu Border Shop", "North", "New Territories", "203.198.64.16/29"),
)

# Services offered at the counter: (code, name, kind, price in HK$, whether the customer's
# identity document is checked: only a valuation certificate for insurance names its owner).
JEWELLERY_SERVICES: tuple[tuple[str, str, str, int, bool], ...] = (
    ("SRV-REP", "Repair (clasp, chain, setting)", "repair", 380, False),
    ("SRV-RSZ", "Ring resizing", "resizing", 480, False),
    ("SRV-CLN", "Ultrasonic cleaning and polishing", "cleaning", 0, False),
    ("SRV-VAL", "Valuation certificate for insurance", "valuation", 1200, True),
    ("SRV-ENG", "Engraving", "engraving", 280, False),
    ("SRV-WAR", "Extended warranty, two years", "warranty", 880, False),
    ("SRV-CUS", "Custom design consultation", "custom", 0, False),
)

# The day's gold price (HK$ per tael of 999.9 gold) starts near this and drifts; one tael is
# 37.429 grams.
GOLD_PRICE_START_HKD_PER_TAEL = 24_500
GRAMS_PER_TAEL = 37.429

# Age bands members choose on the jewellery membership form (voluntary).
AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")

# When jewellery sells, by month (1-12) and category: Lunar New Year gold (Jan-Feb),
# Valentine's Day (Feb), Mother's Day pearls (May), wedding seasons (Mar-May, Sep-Dec) and
# Christmas diamonds (Dec). (month, day range, categories, label)
JEWELLERY_SEASONS: tuple[tuple[int, tuple[int, int], tuple[str, ...], str], ...] = (
    (1, (10, 31), ("Gold", "Jade"), "Lunar New Year"),
    (2, (1, 14), ("Rings", "Necklaces", "Earrings"), "Valentine's Day"),
    (4, (1, 30), ("Rings", "Gold"), "Spring wedding season"),
    (5, (1, 12), ("Pearls", "Jade"), "Mother's Day"),
    (10, (1, 31), ("Rings", "Gold"), "Autumn wedding season"),
    (12, (1, 24), ("Rings", "Earrings", "Watches", "Necklaces"), "Christmas"),
)

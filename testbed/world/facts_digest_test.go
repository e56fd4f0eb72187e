package world

// factDigest names the first facts of FactTable; see TestFactTableFixed.
const factDigest = "Bepoustan / Zefeport / krubourk"

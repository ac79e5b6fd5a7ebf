import Foundation
import Testing

@Suite("The 'A complete app' article shows the quickstart's compiled code")
struct HummingbirdQuickstartArticleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("every Swift block of ACompleteApp.md is in Examples/HummingbirdQuickstart/QuickstartRoutes.swift")
    func articleMatchesQuickstart() throws {
        let article = try String(
            contentsOf: Self.root.appendingPathComponent(
                "Sources/PHIGuardHummingbird/PHIGuardHummingbird.docc/ACompleteApp.md"), encoding: .utf8)
        let source = try String(
            contentsOf: Self.root.appendingPathComponent("Examples/HummingbirdQuickstart/QuickstartRoutes.swift"),
            encoding: .utf8)
        let blocks = article.components(separatedBy: "```swift\n").dropFirst().compactMap {
            $0.components(separatedBy: "\n```").first
        }
        #expect(blocks.count == 3)
        for block in blocks {
            #expect(source.contains(block), "not in QuickstartRoutes.swift:\n\(block)")
        }
    }
}
